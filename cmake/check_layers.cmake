# The direction of dependencies, checked on every #include "..." of focalab's sources: a file may
# include its own folder and the folders below it, never one above. Lowest first:
set(FOCALAB_LAYERS
    models losses
    harness/util harness/config harness/eval harness/data harness/store harness/interop
    harness/train harness/run harness/analysis
    reports harness/cli)
# Usage: at configure time (include()), or `cmake -DFOCALAB_LAYERS_ROOT=DIR -P
# cmake/check_layers.cmake` to check another tree (the tests do, with a back edge planted).
# Fails with every offending file:line and the two layers.

function(focalab_layer_of path out)
  set(found "")
  foreach(layer IN LISTS FOCALAB_LAYERS)
    string(LENGTH "${layer}/" n)
    string(SUBSTRING "${path}" 0 ${n} head)
    if(head STREQUAL "${layer}/")
      set(found "${layer}")  # the last match wins: harness/cli/ over a shorter prefix
    endif()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

function(focalab_check_layers root)
  get_filename_component(root "${root}" ABSOLUTE)
  set(errors "")
  file(GLOB_RECURSE files RELATIVE "${root}"
       "${root}/models/*.h" "${root}/models/*.cpp" "${root}/losses/*.h" "${root}/losses/*.cpp"
       "${root}/harness/*.h" "${root}/harness/*.cpp" "${root}/reports/*.h" "${root}/reports/*.cpp")
  foreach(file IN LISTS files)
    focalab_layer_of("${file}" own)
    if(own STREQUAL "")
      list(APPEND errors "${file}: not in any folder of FOCALAB_LAYERS (cmake/check_layers.cmake)")
      continue()
    endif()
    list(FIND FOCALAB_LAYERS "${own}" own_rank)
    file(STRINGS "${root}/${file}" lines REGEX "^#include \"")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" target "${line}")
      focalab_layer_of("${target}" layer)
      if(layer STREQUAL "")
        continue()  # generated headers, third-party, same-folder relative names
      endif()
      list(FIND FOCALAB_LAYERS "${layer}" rank)
      if(rank GREATER own_rank)
        list(APPEND errors "${file}: #include \"${target}\": ${own} must not depend on ${layer} (above it)")
      endif()
    endforeach()
  endforeach()
  if(NOT files)
    message(FATAL_ERROR "${root}: no sources of models/, losses/, harness/ or reports/ to check")
  endif()
  if(errors)
    list(JOIN errors "\n  " text)
    message(FATAL_ERROR "include edges against the layer order:\n  ${text}")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE)
  if(NOT FOCALAB_LAYERS_ROOT)
    message(FATAL_ERROR "give -DFOCALAB_LAYERS_ROOT=DIR (a source tree)")
  endif()
  focalab_check_layers("${FOCALAB_LAYERS_ROOT}")
  message(STATUS "layers: no edge against the order")
else()
  focalab_check_layers("${PROJECT_SOURCE_DIR}")
endif()
