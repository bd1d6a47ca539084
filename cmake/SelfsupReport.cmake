# selfsup::report — results written for people and scripts: JSON (ablation results, JSON-lines
# training logs) through nlohmann-json, SVG plots, each file written atomically
# (include <selfsup/report/json.hpp>, <selfsup/report/svg.hpp>). Kept out of the core target:
# selfsup::selfsup needs no JSON library. Debian: nlohmann-json3-dev.
# Included by the root CMakeLists.txt right after the selfsup target. Required when the tests or
# examples are built (they use it); otherwise optional.

if(SELFSUP_BUILD_TESTS OR SELFSUP_BUILD_EXAMPLES)
  find_package(nlohmann_json 3.10 REQUIRED)
else()
  find_package(nlohmann_json 3.10 QUIET)
endif()

if(nlohmann_json_FOUND)
  add_library(selfsup_report INTERFACE)
  add_library(selfsup::report ALIAS selfsup_report)
  set_target_properties(selfsup_report PROPERTIES EXPORT_NAME report)
  target_link_libraries(selfsup_report INTERFACE selfsup nlohmann_json::nlohmann_json)
else()
  message(STATUS "selfsup: nlohmann-json not found; selfsup::report (JSON and SVG output) is not defined. "
                 "On Debian: apt-get install nlohmann-json3-dev")
endif()
