# Configures, builds and runs tests/consumer in a fresh build directory.
# Arguments: -DMODE=subdirectory|package -DSOURCE_DIR= -DWORK_DIR= -DGENERATOR= -DARGS_FILE=
#            -DPARENT_BUILD_DIR= (package mode installs selfsup from there first)
include("${ARGS_FILE}")
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${PREFIX_PATH}")
if(MODE STREQUAL "package")
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${PARENT_BUILD_DIR}" --prefix "${WORK_DIR}/install"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed")
  endif()
  list(PREPEND prefix "${WORK_DIR}/install")
endif()
string(REPLACE ";" "\\;" prefix_arg "${prefix}")
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumer" -B "${WORK_DIR}/build"
                        -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release -DSELFSUP_CONSUME=${MODE}
                        "-DSELFSUP_SOURCE_DIR=${SOURCE_DIR}" "-DCMAKE_PREFIX_PATH=${prefix_arg}"
                        ${EXTRA_ARGS}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the ${MODE} consumer failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the ${MODE} consumer failed")
endif()
execute_process(COMMAND "${WORK_DIR}/build/app/consumer" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the ${MODE} consumer ran and failed")
endif()
