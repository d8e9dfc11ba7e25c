# LLVM 14's Support library, linked statically from its archives. We do not use LLVM's exported CMake targets:
# they drag in a shared libz3 that the GPU machine lacks, and nothing qjit calls needs it.
find_package(Threads REQUIRED)
find_library(QJIT_LLVM_SUPPORT_LIB NAMES libLLVMSupport.a PATHS ${QJIT_LLVM_ROOT}/lib NO_DEFAULT_PATH REQUIRED)
find_library(QJIT_LLVM_DEMANGLE_LIB NAMES libLLVMDemangle.a PATHS ${QJIT_LLVM_ROOT}/lib NO_DEFAULT_PATH REQUIRED)
find_package(ZLIB REQUIRED)
add_library(qjit_llvm_support INTERFACE)
target_include_directories(qjit_llvm_support SYSTEM INTERFACE $<BUILD_INTERFACE:${QJIT_LLVM_ROOT}/include>)
target_link_libraries(qjit_llvm_support INTERFACE
  $<BUILD_INTERFACE:${QJIT_LLVM_SUPPORT_LIB}> $<BUILD_INTERFACE:${QJIT_LLVM_DEMANGLE_LIB}>
  $<BUILD_INTERFACE:ZLIB::ZLIB> $<BUILD_INTERFACE:tinfo> Threads::Threads rt ${CMAKE_DL_LIBS} m)
install(TARGETS qjit_llvm_support EXPORT qjitTargets)
