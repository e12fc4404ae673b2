# The data focalab carries inside its binary (cmake/embed_files.cmake), generated into
# ${PROJECT_BINARY_DIR}/generated/. Included by the main build and by the fuzzing build
# (tests/fuzz), with FOCALAB_SOURCE_DIR set.
include(${FOCALAB_SOURCE_DIR}/cmake/embed_files.cmake)

# The published reference numbers (experiments/reference/*.yaml): harness/config/reference.h.
file(GLOB FOCALAB_REFERENCE_FILES CONFIGURE_DEPENDS ${FOCALAB_SOURCE_DIR}/experiments/reference/*.yaml)
focalab_embed_files(OUTPUT ${PROJECT_BINARY_DIR}/generated/reference_data.cpp NAME Reference
                    NAMESPACES focalab::harness "inline config" FILES ${FOCALAB_REFERENCE_FILES})

# The config presets (experiments/configs/*.yaml), so that `focalab bench train` and the tests
# build the presets the sweeps use: harness/config/presets.h.
file(GLOB FOCALAB_PRESET_FILES CONFIGURE_DEPENDS ${FOCALAB_SOURCE_DIR}/experiments/configs/*.yaml)
focalab_embed_files(OUTPUT ${PROJECT_BINARY_DIR}/generated/preset_data.cpp NAME Preset
                    NAMESPACES focalab::harness "inline config" FILES ${FOCALAB_PRESET_FILES})
