#pragma once
// focalab's subcommands. Each takes the arguments after its name and returns an exit code;
// errors are thrown (harness::Error and friends, harness/util/errors.h) and mapped to exit codes by
// main.

#include <functional>
#include <string>
#include <vector>

namespace focalab::harness::cli {

using Args = std::vector<std::string>;

int sweep_command(const Args& args);
int train_command(const Args& args);
int db_merge_command(const Args& args);
int report_command(const Args& args);
int query_command(const Args& args);
int plot_command(const Args& args);
int serve_command(const Args& args);
int analyze_command(const Args& args);
int config_command(const Args& args);
int bench_command(const Args& args);
int predict_command(const Args& args);
int eval_json_command(const Args& args);
int eval_command(const Args& args);
int export_command(const Args& args);
int data_command(const Args& args);
int devices_command(const Args& args);
// "focalab X (git Y)" and the LibTorch version it was built with.
std::string version_text();
std::string main_help();

using CommandFn = int (*)(const Args&);
// The commands that need no model (report, query, db, eval-json, config): the light front
// (harness/cli/front.cpp) runs them itself, without loading LibTorch; nullptr for any other.
CommandFn light_command(const std::string& name);
// `focalab`, `--help` and `--version`: prints and returns the exit code; -1 for anything else.
int help_or_version(const Args& argv);
// main() of both programs around `dispatch`: an error's first line on stderr ("focalab: error:
// ...") and its exit code (harness/util/errors.h); SIGXFSZ ignored, so that a write past a file
// size limit fails like a full disk instead of killing the process in the middle of it.
int run_main(const std::function<int()>& dispatch);

}  // namespace focalab::harness::cli
