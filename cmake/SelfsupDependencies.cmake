# Finds what selfsup::selfsup carries: LibTorch, range-v3 and fmt.
#
# LibTorch: Debian's libtorch-dev is found on the default prefix; the LibTorch inside a pip
# PyTorch is found with
#   -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
#
# LibTorch's imported targets (torch, c10, ...) are visible only in the directory that called
# find_package(Torch). They are promoted to global here, so that a project that adds selfsup with
# add_subdirectory() links selfsup::selfsup from any of its directories.
macro(selfsup_find_dependencies)
  find_package(Torch REQUIRED)
  find_package(range-v3 REQUIRED)
  find_package(fmt REQUIRED)
  get_directory_property(_selfsup_imported IMPORTED_TARGETS)
  foreach(_selfsup_target IN LISTS _selfsup_imported)
    get_target_property(_selfsup_global ${_selfsup_target} IMPORTED_GLOBAL)
    if(NOT _selfsup_global)
      set_target_properties(${_selfsup_target} PROPERTIES IMPORTED_GLOBAL TRUE)
    endif()
  endforeach()
  unset(_selfsup_imported)
  unset(_selfsup_target)
  unset(_selfsup_global)
endmacro()

# Sets `out` to whether the LibTorch that find_package(Torch) found was built with CUDA.
function(selfsup_torch_has_cuda out)
  if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
    set(${out} ON PARENT_SCOPE)
  else()
    set(${out} OFF PARENT_SCOPE)
  endif()
endfunction()
