// `focalab`, the program users run. The commands that need no model — report, query, db merge,
// eval-json, config keys, --help, --version — run here, in a program that does not link LibTorch
// and starts in milliseconds. Every other command is handed with execv, arguments unchanged, to
// focalab-torch beside this file: the same process, so exit codes, signals and output are that
// program's, and nothing tells the two apart but the start-up time.

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/cli/commands.h"
#include "harness/util/errors.h"

namespace {

namespace fs = std::filesystem;

// Replaces this process by focalab-torch with the same arguments; returns only when it cannot.
int hand_over(char** argv) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = fs::absolute(argv[0], ec);
  const fs::path torch_program = self.parent_path() / "focalab-torch";
  // What focalab-torch writes into scripts that run focalab again (sweep slurm): this program.
  setenv("FOCALAB_FRONT", self.c_str(), 1);
  execv(torch_program.c_str(), argv);
  fmt::print(stderr, "focalab: internal error: cannot run {}: {} (focalab-torch is built and "
             "installed beside focalab: scripts/build.sh)\n", torch_program.string(),
             std::strerror(errno));
  return focalab::harness::kExitInternal;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace focalab::harness::cli;
  const Args args(argv + 1, argv + argc);
  return run_main([&] {
    if (const int code = help_or_version(args); code >= 0) return code;
    const CommandFn light = light_command(args[0]);
    if (!light) return hand_over(argv);
    return light(Args(args.begin() + 1, args.end()));
  });
}
