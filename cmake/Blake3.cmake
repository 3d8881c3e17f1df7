# Builds the official BLAKE3 C implementation from the sources Debian's
# librust-blake3-dev installs, rather than vendoring a copy. The x86-64 assembly
# kernels are selected at run time by blake3_dispatch.c.
file(GLOB _blake3_dirs LIST_DIRECTORIES true "/usr/share/cargo/registry/blake3-*/c")
list(SORT _blake3_dirs COMPARE NATURAL ORDER DESCENDING)
list(GET _blake3_dirs 0 BLAKE3_SOURCE_DIR)
if(NOT EXISTS "${BLAKE3_SOURCE_DIR}/blake3.h")
  message(FATAL_ERROR "BLAKE3 C sources not found: install librust-blake3-dev")
endif()
message(STATUS "BLAKE3 sources: ${BLAKE3_SOURCE_DIR}")

set(_blake3_sources
  ${BLAKE3_SOURCE_DIR}/blake3.c
  ${BLAKE3_SOURCE_DIR}/blake3_dispatch.c
  ${BLAKE3_SOURCE_DIR}/blake3_portable.c)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  enable_language(ASM)
  list(APPEND _blake3_sources
    ${BLAKE3_SOURCE_DIR}/blake3_sse2_x86-64_unix.S
    ${BLAKE3_SOURCE_DIR}/blake3_sse41_x86-64_unix.S
    ${BLAKE3_SOURCE_DIR}/blake3_avx2_x86-64_unix.S
    ${BLAKE3_SOURCE_DIR}/blake3_avx512_x86-64_unix.S)
else()
  set(_blake3_defs BLAKE3_NO_SSE2 BLAKE3_NO_SSE41 BLAKE3_NO_AVX2 BLAKE3_NO_AVX512)
endif()
add_library(blake3 STATIC ${_blake3_sources})
target_include_directories(blake3 SYSTEM PUBLIC ${BLAKE3_SOURCE_DIR})
target_compile_definitions(blake3 PRIVATE ${_blake3_defs})
# Third-party code: do not apply our warning flags or sanitizers' -Werror to it.
target_compile_options(blake3 PRIVATE -w)
set_target_properties(blake3 PROPERTIES POSITION_INDEPENDENT_CODE ON)
