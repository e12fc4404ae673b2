#include "harness/cli/cli_common.h"

#include <fmt/format.h>

#include <boost/program_options/errors.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>

#include "harness/config/config.h"
#include "harness/util/errors.h"

namespace focalab::harness::cli {

namespace po = boost::program_options;
using harness::TrialStatus;

namespace {

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

}  // namespace

int run_main(const std::function<int()>& dispatch) {
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return dispatch();
  } catch (const Error& e) {
    fmt::print(stderr, "focalab: error: {}\n", first_line(e.what()));
    return e.exit_code();
  } catch (const po::error& e) {
    fmt::print(stderr, "focalab: error: {} (see --help)\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "focalab: internal error: {}\n", first_line(e.what()));
    return kExitInternal;
  }
}

std::string default_db() {
  const char* env = std::getenv("FOCALAB_DB");
  return env && *env ? env : "focalab.db";
}

po::options_description db_option() {
  po::options_description d("Results database");
  d.add_options()("db", po::value<std::string>()->default_value(default_db()),
                  "SQLite results database (default: $FOCALAB_DB or ./focalab.db)");
  return d;
}

// Parses `args` with `visible` options and positional names; prints help and returns false on -h.
bool parse(const Args& args, const po::options_description& visible,
           const po::options_description& hidden,
           const po::positional_options_description& positional, po::variables_map& vm,
           const std::string& usage) {
  po::options_description all;
  all.add(visible).add(hidden);
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::ostringstream ss;
    ss << visible;
    fmt::print("{}\n{}", usage, ss.str());
    return false;
  }
  po::notify(vm);
  return true;
}

bool parse(const Args& args, const po::options_description& visible, po::variables_map& vm,
           const std::string& usage) {
  return parse(args, visible, po::options_description(), po::positional_options_description(), vm,
               usage);
}

std::vector<std::string> overrides_of(const po::variables_map& vm) {
  return vm.count("overrides") ? vm["overrides"].as<std::vector<std::string>>()
                               : std::vector<std::string>{};
}

// Parses `SWEEP.yaml [key=value ...]` plus `opts`, and loads the sweep. Returns nullopt after
// printing the help for -h.
std::optional<harness::SweepSpec> parse_sweep_args(const Args& args, po::options_description& opts,
                                                   const std::string& usage,
                                                   po::variables_map& vm) {
  opts.add(db_option());
  po::options_description hidden;
  hidden.add_options()("file", po::value<std::string>()->required(), "")(
      "overrides", po::value<std::vector<std::string>>(), "");
  po::positional_options_description pos;
  pos.add("file", 1).add("overrides", -1);
  if (!parse(args, opts, hidden, pos, vm, usage)) return std::nullopt;
  return harness::load_sweep(vm["file"].as<std::string>(), overrides_of(vm));
}

std::set<TrialStatus> parse_rerun(const std::string& text) {
  std::set<TrialStatus> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "failed") out.insert(TrialStatus::kFailed);
    else if (item == "diverged") out.insert(TrialStatus::kDiverged);
    else if (item == "done") out.insert(TrialStatus::kDone);
    else if (!item.empty()) {
      throw UsageError(fmt::format("--rerun '{}': allowed: a comma list of failed, diverged, done",
                                   item));
    }
  }
  return out;
}

}  // namespace focalab::harness::cli
