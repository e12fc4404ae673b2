# Generates ${PROJECT_BINARY_DIR}/generated/bench_scripts.cpp: `focalab bench`'s Python twins
# (harness/cli/bench/*.py) as string literals, so that the benchmarks run from any directory;
# bench_script(name) returns one (harness/cli/bench/bench_common.h).
file(GLOB FOCALAB_BENCH_SCRIPTS CONFIGURE_DEPENDS ${FOCALAB_SOURCE_DIR}/harness/cli/bench/*.py)
set(FOCALAB_BENCH_SCRIPT_STRINGS "")
set(FOCALAB_BENCH_SCRIPT_NAMES "")
list(LENGTH FOCALAB_BENCH_SCRIPTS FOCALAB_BENCH_SCRIPT_COUNT)
foreach(script ${FOCALAB_BENCH_SCRIPTS})
  file(READ ${script} script_content)
  get_filename_component(script_name ${script} NAME)
  string(APPEND FOCALAB_BENCH_SCRIPT_STRINGS "R\"focalab_py(${script_content})focalab_py\",\n")
  string(APPEND FOCALAB_BENCH_SCRIPT_NAMES "\"${script_name}\",\n")
endforeach()
configure_file(${FOCALAB_SOURCE_DIR}/cmake/bench_scripts.cpp.in
               ${PROJECT_BINARY_DIR}/generated/bench_scripts.cpp @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${FOCALAB_BENCH_SCRIPTS})
