# selfsup::io — image decoding for data::ImageFolder (include <selfsup/data/image_folder.hpp>):
# libjpeg-turbo (its TurboJPEG API, and its libjpeg API for decoding part of an image) and libpng,
# all from Debian (libturbojpeg0-dev, libjpeg62-turbo-dev, libpng-dev). Optional: when one is
# missing, selfsup::io is not defined and the core library is unchanged.
# Included by the root CMakeLists.txt right after the selfsup target.

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(SELFSUP_TURBOJPEG QUIET IMPORTED_TARGET libturbojpeg)
endif()
find_package(PNG QUIET)
find_package(JPEG QUIET)

if(TARGET PkgConfig::SELFSUP_TURBOJPEG)
  set(_selfsup_turbojpeg PkgConfig::SELFSUP_TURBOJPEG)
else()
  # No pkg-config file: look for the library and header directly.
  find_path(SELFSUP_TURBOJPEG_INCLUDE_DIR turbojpeg.h)
  find_library(SELFSUP_TURBOJPEG_LIBRARY NAMES turbojpeg)
  if(SELFSUP_TURBOJPEG_INCLUDE_DIR AND SELFSUP_TURBOJPEG_LIBRARY)
    add_library(selfsup_turbojpeg INTERFACE)
    target_include_directories(selfsup_turbojpeg INTERFACE "${SELFSUP_TURBOJPEG_INCLUDE_DIR}")
    target_link_libraries(selfsup_turbojpeg INTERFACE "${SELFSUP_TURBOJPEG_LIBRARY}")
    set(_selfsup_turbojpeg selfsup_turbojpeg)
  endif()
endif()

if(_selfsup_turbojpeg AND PNG_FOUND AND JPEG_FOUND)
  add_library(selfsup_io INTERFACE)
  add_library(selfsup::io ALIAS selfsup_io)
  # No compile definitions or options: linking selfsup::io must not change how other code compiles
  # (it would invalidate precompiled headers). image_folder.hpp detects its headers itself.
  target_link_libraries(selfsup_io INTERFACE selfsup ${_selfsup_turbojpeg} JPEG::JPEG PNG::PNG)
  message(STATUS "selfsup: image folder decoding (selfsup::io) with libjpeg-turbo and libpng")
else()
  message(STATUS "selfsup: libturbojpeg, libjpeg or libpng not found; selfsup::io (image folders) is not "
                 "built. On Debian: apt-get install libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev")
endif()
unset(_selfsup_turbojpeg)
