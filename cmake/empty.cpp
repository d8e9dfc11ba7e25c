// The shared library qjit is qjit_core linked whole; this translation unit only gives CMake a source to build.
