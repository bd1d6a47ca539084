# Builds one target that must not compile, and checks that the compiler's first error line is
# selfsup's own message. Arguments: -DBUILD_DIR= -DTARGET= -DSOURCE= (the source names the
# expected message on its first line: `// expect: ...`).
file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
string(REGEX REPLACE "^// expect: " "" expected "${first_line}")
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(result EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but must not: expected the error\n  ${expected}")
endif()
string(REGEX MATCH "[^\n]*error:[^\n]*" first_error "${output}")
string(FIND "${first_error}" "${expected}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${TARGET}: the first error line is\n  ${first_error}\n"
                      "but should contain\n  ${expected}\nFull output:\n${output}")
endif()
message(STATUS "${TARGET}: first error is selfsup's message: ${expected}")
