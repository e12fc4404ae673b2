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
