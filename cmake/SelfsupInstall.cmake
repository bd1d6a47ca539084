include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SELFSUP_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/selfsup")

if(TARGET selfsup_report)
  set(SELFSUP_REPORT TRUE)
  install(TARGETS selfsup selfsup_report EXPORT selfsupTargets)
else()
  set(SELFSUP_REPORT FALSE)
  install(TARGETS selfsup EXPORT selfsupTargets)
endif()
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/selfsup" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT selfsupTargets NAMESPACE selfsup:: DESTINATION "${SELFSUP_CMAKE_DIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/selfsupConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/selfsupConfig.cmake"
  INSTALL_DESTINATION "${SELFSUP_CMAKE_DIR}")
# Header-only: the package does not depend on the consumer's architecture.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/selfsupConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES
  "${PROJECT_BINARY_DIR}/selfsupConfig.cmake"
  "${PROJECT_BINARY_DIR}/selfsupConfigVersion.cmake"
  DESTINATION "${SELFSUP_CMAKE_DIR}")
