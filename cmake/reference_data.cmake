# Generates ${PROJECT_BINARY_DIR}/generated/reference_data.cpp: the published reference numbers
# (FOCALAB_SOURCE_DIR/experiments/reference/*.yaml) as string literals, compiled into the binary.
# Included by the main build and by the fuzzing build (tests/fuzz).
file(GLOB FOCALAB_REFERENCE_FILES CONFIGURE_DEPENDS
     ${FOCALAB_SOURCE_DIR}/experiments/reference/*.yaml)
set(FOCALAB_REFERENCE_STRINGS "")
set(FOCALAB_REFERENCE_NAMES "")
list(LENGTH FOCALAB_REFERENCE_FILES FOCALAB_REFERENCE_COUNT)
foreach(ref_file ${FOCALAB_REFERENCE_FILES})
  file(READ ${ref_file} ref_content)
  get_filename_component(ref_name ${ref_file} NAME)
  string(APPEND FOCALAB_REFERENCE_STRINGS "R\"focalab_ref(${ref_content})focalab_ref\",\n")
  string(APPEND FOCALAB_REFERENCE_NAMES "\"${ref_name}\",\n")
endforeach()
configure_file(${FOCALAB_SOURCE_DIR}/cmake/reference_data.cpp.in
               ${PROJECT_BINARY_DIR}/generated/reference_data.cpp @ONLY)
# Edits to the YAML (not only added/removed files) must regenerate the compiled-in data.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${FOCALAB_REFERENCE_FILES})

# Generates ${PROJECT_BINARY_DIR}/generated/preset_data.cpp: the config presets
# (FOCALAB_SOURCE_DIR/experiments/configs/*.yaml), so that `focalab bench train` and the tests
# build the presets the sweeps use (harness/config/presets.h) without reading the source tree.
file(GLOB FOCALAB_PRESET_FILES CONFIGURE_DEPENDS ${FOCALAB_SOURCE_DIR}/experiments/configs/*.yaml)
set(FOCALAB_PRESET_STRINGS "")
set(FOCALAB_PRESET_NAMES "")
list(LENGTH FOCALAB_PRESET_FILES FOCALAB_PRESET_COUNT)
foreach(preset_file ${FOCALAB_PRESET_FILES})
  file(READ ${preset_file} preset_content)
  get_filename_component(preset_name ${preset_file} NAME)
  string(APPEND FOCALAB_PRESET_STRINGS "R\"focalab_preset(${preset_content})focalab_preset\",\n")
  string(APPEND FOCALAB_PRESET_NAMES "\"${preset_name}\",\n")
endforeach()
configure_file(${FOCALAB_SOURCE_DIR}/cmake/preset_data.cpp.in
               ${PROJECT_BINARY_DIR}/generated/preset_data.cpp @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${FOCALAB_PRESET_FILES})
