// `focalab config keys`: every sweep key with its type, default, allowed values and meaning, from
// the field table — a command of the light front, which does not load LibTorch.

#include <fmt/format.h>

#include "harness/cli/commands.h"
#include "harness/config/config.h"
#include "harness/util/errors.h"

namespace focalab::harness::cli {

int config_command(const Args& args) {
  if (args.empty() || args[0] != "keys") {
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
      fmt::print("Usage: focalab config keys\n\nLists every sweep key with its type, default, "
                 "allowed values and meaning.\n\nExample:\n  focalab config keys | grep loss.\n");
      return kExitOk;
    }
    throw UsageError("config: expected `focalab config keys`");
  }
  for (const auto& f : harness::config_fields()) {
    fmt::print("{:<28} {:<14} default {:<22} {}; {}\n", f.path, f.type, f.default_value, f.help,
               f.allowed);
  }
  return kExitOk;
}

}  // namespace focalab::harness::cli
