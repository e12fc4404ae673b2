#pragma once
// focalab's subcommands. Each takes the arguments after its name and returns an exit code;
// errors are thrown (harness::Error and friends, harness/util/errors.h) and mapped to exit codes by
// main.

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
std::string version_text();
std::string main_help();

}  // namespace focalab::harness::cli
