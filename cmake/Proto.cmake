# cycas_proto_library(NAME <target> PROTOS <files relative to proto/> [GRPC] [DEPS <targets>])
#
# Generates C++ (and gRPC stubs when GRPC is given) for our own .proto files and
# builds them into a static library. Generated headers live under
# ${PROJECT_BINARY_DIR}/proto_gen with the same relative paths as the .proto
# files, so consumers write e.g. #include "zako/v1/cas.grpc.pb.h".
#
# protoc runs once per library with proto/ as the import root, so imports
# between our files resolve by their path relative to proto/ (within the
# library or from a library listed in DEPS); the well-known types
# (google/protobuf/*.proto) resolve from the protobuf include directory.
# Every output depends on every input .proto of the library and of its DEPS,
# so editing an imported file regenerates its importers.
function(cycas_proto_library)
  cmake_parse_arguments(ARG "GRPC" "NAME" "PROTOS;DEPS" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_PROTOS)
    message(FATAL_ERROR "cycas_proto_library: NAME and PROTOS are required")
  endif()
  set(_root ${PROJECT_SOURCE_DIR}/proto)
  set(_out ${PROJECT_BINARY_DIR}/proto_gen)
  file(MAKE_DIRECTORY ${_out})

  set(_inputs)
  set(_gen)
  foreach(_p IN LISTS ARG_PROTOS)
    if(NOT EXISTS ${_root}/${_p})
      message(FATAL_ERROR "cycas_proto_library(${ARG_NAME}): ${_root}/${_p} does not exist")
    endif()
    list(APPEND _inputs ${_root}/${_p})
    string(REGEX REPLACE "\\.proto$" "" _base ${_p})
    list(APPEND _gen ${_out}/${_base}.pb.cc ${_out}/${_base}.pb.h)
    if(ARG_GRPC)
      list(APPEND _gen ${_out}/${_base}.grpc.pb.cc ${_out}/${_base}.grpc.pb.h)
    endif()
  endforeach()

  # .proto files of proto libraries we import from (recorded on their targets).
  set(_dep_inputs)
  foreach(_d IN LISTS ARG_DEPS)
    if(TARGET ${_d})
      get_target_property(_files ${_d} CYCAS_PROTO_FILES)
      if(_files)
        list(APPEND _dep_inputs ${_files})
      endif()
    endif()
  endforeach()

  set(_args --proto_path=${_root})
  # Make the well-known types explicit rather than relying on protoc's
  # built-in default include path.
  foreach(_inc IN LISTS Protobuf_INCLUDE_DIRS Protobuf_INCLUDE_DIR)
    if(EXISTS ${_inc}/google/protobuf/any.proto)
      list(APPEND _args --proto_path=${_inc})
      break()
    endif()
  endforeach()
  list(APPEND _args --cpp_out=${_out})
  set(_tools ${PROTOC})
  if(ARG_GRPC)
    list(APPEND _args --grpc_out=${_out} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
    list(APPEND _tools ${GRPC_CPP_PLUGIN})
  endif()

  add_custom_command(
    OUTPUT ${_gen}
    COMMAND ${PROTOC} ${_args} ${ARG_PROTOS}
    WORKING_DIRECTORY ${_root}
    DEPENDS ${_inputs} ${_dep_inputs} ${_tools}
    COMMENT "protoc (${ARG_NAME})"
    VERBATIM)

  add_library(${ARG_NAME} STATIC ${_gen})
  set_target_properties(${ARG_NAME} PROPERTIES CYCAS_PROTO_FILES "${_inputs}")
  target_include_directories(${ARG_NAME} SYSTEM PUBLIC ${_out})
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf gRPC::grpc++ ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE -w)
endfunction()
