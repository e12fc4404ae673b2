#pragma once
// Helpers shared by the `focalab bench` commands: option parsing, timing, scratch directories
// and running a comparison script with /usr/bin/python3.

#include <boost/program_options.hpp>

#include <functional>
#include <optional>
#include <string>

#include "harness/cli/commands.h"

namespace focalab::harness::cli {

// A temporary directory, removed with everything in it when the object goes.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& what);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Median wall time of `reps` calls of fn after two warm-up calls.
double median_seconds(int reps, const std::function<void()>& fn);

// Times a and b alternately (a b, b a, a b, ...) `reps` times each after two warm-ups of each, so
// that both see the same machine state. Returns their median times and the median and quartiles
// of the per-repetition ratios b / a (steadier than the ratio of the medians on a busy machine).
struct PairedTimes {
  double a, b, ratio, ratio_q1, ratio_q3;
};
PairedTimes paired_median_seconds(int reps, const std::function<void()>& a,
                                  const std::function<void()>& b);

// Runs the Python twin `script` (a file name in harness/cli/bench/, compiled in) with
// /usr/bin/python3 ($FOCALAB_PYTHON when set) and `args` (after `env`, e.g. "NAME=value ", when
// given); returns its last stdout line (warnings go to stderr, shown to the user), or nullopt
// with the reason in `why`.
std::optional<std::string> run_python(const std::string& script, const std::string& args,
                                      std::string& why, const std::string& env = {});

// The environment that gives a glibc process the allocator settings focalab sets for itself at
// start-up (harness/cli/main.cpp): freed memory kept for reuse instead of returned to the kernel.
extern const char* const kKeepFreedMemoryEnv;

// `focalab bench train` (bench_train.cpp).
int bench_train(const Args& args);

}  // namespace focalab::harness::cli
