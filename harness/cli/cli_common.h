#pragma once
// What the command files of harness/cli/ share: option parsing, the results-database option, a
// sweep file with its overrides, and the worker processes of `sweep run --jobs`.

#include <boost/program_options.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "harness/cli/commands.h"
#include "harness/config/config.h"
#include "harness/run/scheduler.h"
#include "harness/store/store.h"

namespace focalab::harness::cli {

// $FOCALAB_DB, else ./focalab.db.
std::string default_db();

// The `--db` option group.
boost::program_options::options_description db_option();

// Parses `args` with `visible` options and positional names; prints help and returns false on -h.
bool parse(const Args& args, const boost::program_options::options_description& visible,
           const boost::program_options::options_description& hidden,
           const boost::program_options::positional_options_description& positional,
           boost::program_options::variables_map& vm, const std::string& usage);

// The same for a command of options only (no positional arguments), e.g. the benchmarks.
bool parse(const Args& args, const boost::program_options::options_description& visible,
           boost::program_options::variables_map& vm, const std::string& usage);

// The `key=value` positional arguments after a sweep file.
std::vector<std::string> overrides_of(const boost::program_options::variables_map& vm);

// Parses `SWEEP.yaml [key=value ...]` plus `opts`, and loads the sweep. Returns nullopt after
// printing the help for -h.
std::optional<harness::SweepSpec> parse_sweep_args(
    const Args& args, boost::program_options::options_description& opts,
    const std::string& usage, boost::program_options::variables_map& vm);

// `--rerun failed,diverged,done`.
std::set<harness::TrialStatus> parse_rerun(const std::string& text);

// `sweep run --jobs N` (or `--devices`): N worker processes of this program run the sweep on the
// same database, the CPU threads divided between them or one device each (harness/cli/worker_pool.cpp).
int run_workers(const boost::program_options::variables_map& vm, const harness::SweepSpec& spec,
                const harness::RunOptions& run, int64_t jobs,
                const std::vector<std::string>& devices);

}  // namespace focalab::harness::cli
