# Embeds the kernel templates (templates/*.cuh) into the library as string literals, so a deployment needs neither
# the template files nor any CUDA header: codegen looks them up by file name.
function(qjit_embed_templates out_cpp)
  set(inputs ${ARGN})
  add_custom_command(
    OUTPUT ${out_cpp}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out_cpp} "-DINPUTS=${inputs}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_templates_script.cmake
    DEPENDS ${inputs} ${PROJECT_SOURCE_DIR}/cmake/embed_templates_script.cmake
    COMMENT "Embedding kernel templates"
    VERBATIM)
endfunction()
