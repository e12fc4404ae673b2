// focalab-torch: every focalab command, LibTorch linked. Users run `focalab` (harness/cli/front.cpp),
// which runs the commands that need no model itself and hands the others to this program.

#include <fmt/format.h>

#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

#include <c10/util/Exception.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "harness/cli/commands.h"
#include "harness/util/errors.h"

namespace {

// LibTorch's CPU tensors come from malloc. With glibc's defaults every large freed block goes back
// to the kernel (blocks above the mmap threshold, and heap tops above the trim threshold), so each
// forward pass page-faults its activations in again: RetinaNet-R50 inference at 800 px ran 2.5x
// slower on 2 cores, a third of it in the kernel (docs/BENCHMARKS.md). Keep freed memory for
// reuse instead; the process holds its peak footprint until it exits.
void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

int dispatch(const std::vector<std::string>& argv) {
  using namespace focalab::harness::cli;
  if (const int code = help_or_version(argv); code >= 0) return code;
  const std::string cmd = argv[0];
  const Args rest(argv.begin() + 1, argv.end());
  if (const CommandFn light = light_command(cmd)) return light(rest);
  if (cmd == "sweep") return sweep_command(rest);
  if (cmd == "train") return train_command(rest);
  if (cmd == "plot") return plot_command(rest);
  if (cmd == "serve") return serve_command(rest);
  if (cmd == "analyze") return analyze_command(rest);
  if (cmd == "bench") return bench_command(rest);
  if (cmd == "predict") return predict_command(rest);
  if (cmd == "eval") return eval_command(rest);
  if (cmd == "export") return export_command(rest);
  if (cmd == "data") return data_command(rest);
  if (cmd == "devices") return devices_command(rest);
  throw focalab::harness::UsageError(fmt::format(
      "unknown command '{}' (commands: sweep, train, db, report, plot, serve, analyze, query, "
      "config, data, predict, eval, export, eval-json, bench, devices; see focalab --help)",
      cmd));
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  const std::vector<std::string> args(argv + 1, argv + argc);
  return focalab::harness::cli::run_main([&] {
    try {
      return dispatch(args);
    } catch (const c10::Error& e) {
      // LibTorch's message without its C++ backtrace
      throw std::runtime_error(e.what_without_backtrace());
    }
  });
}
