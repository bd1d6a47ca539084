# Writes OUT, a header holding the review page's files (PAGE_DIR: index.html, review.js,
# review.css) as string constants, so that curate serves the page it was built with from any
# folder. Run by the build whenever one of them changes.
set(body "// Made by examples/curate/embed_page.cmake from examples/curate/page/: edit those files.\n#pragma once\n#include <string_view>\nnamespace selfsup::examples::curate::page {\n")
foreach(pair "index.html|index_html" "review.js|review_js" "review.css|review_css")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 file)
  list(GET pair 1 name)
  file(READ "${PAGE_DIR}/${file}" text)
  string(FIND "${text}" ")selfsup_page\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${PAGE_DIR}/${file} holds the text )selfsup_page\" that ends the string it is embedded in")
  endif()
  string(APPEND body "inline constexpr std::string_view ${name} = R\"selfsup_page(${text})selfsup_page\";\n")
endforeach()
string(APPEND body "}  // namespace selfsup::examples::curate::page\n")
# Rewritten only when it changes, so that an unchanged page does not recompile the server.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL body)
  file(WRITE "${OUT}" "${body}")
endif()
