# The methods table of docs/methods.md is train --list-markdown's output, between its two marker
# lines: this script fails when they differ, and with -DUPDATE=ON writes the output there.
#
#   cmake -DEXE=build/release/examples/train -DDOC=docs/methods.md -DUPDATE=ON -P examples/check_methods_table.cmake
set(begin_marker "<!-- begin: train --list-markdown -->\n")
set(end_marker "<!-- end: train --list-markdown -->")
execute_process(COMMAND "${EXE}" --list-markdown RESULT_VARIABLE rc OUTPUT_VARIABLE table ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR table STREQUAL "")
  message(FATAL_ERROR "train --list-markdown failed (${rc}): ${err}")
endif()
file(READ "${DOC}" doc)
string(FIND "${doc}" "${begin_marker}" begin)
string(FIND "${doc}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  message(FATAL_ERROR "${DOC}: no table between the lines '<!-- begin: train --list-markdown -->' and "
                      "'<!-- end: train --list-markdown -->'")
endif()
string(LENGTH "${begin_marker}" marker_length)
math(EXPR start "${begin} + ${marker_length}")
math(EXPR length "${end} - ${start}")
string(SUBSTRING "${doc}" ${start} ${length} current)
if(current STREQUAL table)
  message(STATUS "${DOC}: the methods table is train --list-markdown's")
elseif(UPDATE)
  string(SUBSTRING "${doc}" 0 ${start} head)
  string(SUBSTRING "${doc}" ${end} -1 tail)
  file(WRITE "${DOC}" "${head}${table}${tail}")
  message(STATUS "${DOC}: the methods table rewritten from train --list-markdown")
else()
  message(FATAL_ERROR "${DOC}: the methods table differs from train --list-markdown's output. Regenerate it:\n"
                      "  cmake -DEXE=${EXE} -DDOC=${DOC} -DUPDATE=ON -P ${CMAKE_CURRENT_LIST_FILE}\n"
                      "In the file:\n${current}\ntrain prints:\n${table}")
endif()
