# `focalab bench`'s Python twins (harness/cli/bench/*.py), compiled in so that the benchmarks run
# from any directory: run_python(name) in harness/cli/bench/bench_common.h.
include(${FOCALAB_SOURCE_DIR}/cmake/embed_files.cmake)
file(GLOB FOCALAB_BENCH_SCRIPTS CONFIGURE_DEPENDS ${FOCALAB_SOURCE_DIR}/harness/cli/bench/*.py)
focalab_embed_files(OUTPUT ${PROJECT_BINARY_DIR}/generated/bench_scripts.cpp NAME BenchScript
                    NAMESPACES focalab::harness::cli FILES ${FOCALAB_BENCH_SCRIPTS})
