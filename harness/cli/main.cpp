// focalab: loss ablations for dense object detection. See `focalab --help`.

#include <fmt/format.h>

#include <boost/program_options/errors.hpp>
#include <climits>
#include <csignal>
#include <cstdio>
#include <exception>
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

// The first line of an error, with control characters (from binary junk in a file that was
// quoted) shown as \xNN so that the message stays one readable line.
std::string first_line(const std::string& s) {
  const auto nl = s.find('\n');
  std::string out;
  for (char c : nl == std::string::npos ? s : s.substr(0, nl)) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

int dispatch(const std::vector<std::string>& argv) {
  using namespace focalab::harness::cli;
  if (argv.empty() || argv[0] == "-h" || argv[0] == "--help" || argv[0] == "help") {
    fmt::print("{}", main_help());
    return argv.empty() ? focalab::harness::kExitUsage : focalab::harness::kExitOk;
  }
  if (argv[0] == "--version" || argv[0] == "version") {
    fmt::print("{}", version_text());
    return focalab::harness::kExitOk;
  }
  const std::string cmd = argv[0];
  const Args rest(argv.begin() + 1, argv.end());
  if (cmd == "sweep") return sweep_command(rest);
  if (cmd == "train") return train_command(rest);
  if (cmd == "db") return db_merge_command(rest);
  if (cmd == "report") return report_command(rest);
  if (cmd == "query") return query_command(rest);
  if (cmd == "plot") return plot_command(rest);
  if (cmd == "serve") return serve_command(rest);
  if (cmd == "analyze") return analyze_command(rest);
  if (cmd == "config") return config_command(rest);
  if (cmd == "bench") return bench_command(rest);
  if (cmd == "predict") return predict_command(rest);
  if (cmd == "eval-json") return eval_json_command(rest);
  if (cmd == "eval") return eval_command(rest);
  if (cmd == "export") return export_command(rest);
  if (cmd == "data") return data_command(rest);
  throw focalab::harness::UsageError(fmt::format(
      "unknown command '{}' (commands: sweep, train, db, report, plot, serve, analyze, query, config, data, predict, eval, export, eval-json, bench; see focalab --help)", cmd));
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  // Past a file size limit (ulimit -f) a write must fail with EFBIG, reported like a full disk,
  // instead of the signal killing the process in the middle of it.
  std::signal(SIGXFSZ, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return dispatch(args);
  } catch (const focalab::harness::Error& e) {
    fmt::print(stderr, "focalab: error: {}\n", first_line(e.what()));
    return e.exit_code();
  } catch (const boost::program_options::error& e) {
    fmt::print(stderr, "focalab: error: {} (see --help)\n", e.what());
    return focalab::harness::kExitUsage;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "focalab: internal error: {}\n", first_line(e.what_without_backtrace()));
    return focalab::harness::kExitInternal;
  } catch (const std::exception& e) {
    fmt::print(stderr, "focalab: internal error: {}\n", first_line(e.what()));
    return focalab::harness::kExitInternal;
  }
}
