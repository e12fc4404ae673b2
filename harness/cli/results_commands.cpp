// `focalab report`, `plot`, `serve`, `query` and `db merge`: the results database, read.

#include <fmt/format.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <unistd.h>
#include <map>
#include <thread>
#include <atomic>
#include <csignal>
#include <sys/wait.h>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "focalab/version.h"
#include "harness/analysis/data_stats.h"
#include "harness/analysis/predict.h"
#include "harness/analysis/trial_model.h"
#include "harness/cli/cli_common.h"
#include "harness/config/config.h"
#include "harness/config/reference.h"
#include "harness/config/sweep.h"
#include "harness/data/coco_dataset_tools.h"
#include "harness/data/dataset.h"
#include "harness/data/image_io.h"
#include "harness/eval/coco_files.h"
#include "harness/eval/loss_cdf.h"
#include "harness/interop/export.h"
#include "harness/interop/weights.h"
#include "harness/run/device.h"
#include "harness/run/progress.h"
#include "harness/run/scheduler.h"
#include "harness/store/sqlite.h"
#include "harness/store/store.h"
#include "harness/train/trainer.h"
#include "harness/util/errors.h"
#include "harness/util/paths.h"
#include "reports/plots/chart.h"
#include "reports/plots/plot.h"
#include "reports/query.h"
#include "reports/report.h"
#include "reports/sweep_data.h"
#include "reports/web/serve.h"

namespace focalab::harness::cli {

namespace po = boost::program_options;
using harness::TrialStatus;
using harness::write_file_atomically;

namespace {

const char* kDbMergeUsage = R"(Usage: focalab db merge SHARD.db [SHARD.db ...] --into RESULTS.db

Folds results databases (shards written by `sweep slurm` array tasks, or by runs on other
machines) into one. Sweeps are matched by name and trials by key: a trial missing from RESULTS
is copied with all its rows; one present in both keeps the copy that got further (done >
diverged > failed > interrupted > running > pending). Merging the same shard again changes
nothing. RESULTS is created if it does not exist.

Example:
  focalab db merge shards/shard-*.db --into results.db && focalab report --db results.db
)";

int db_command(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    fmt::print("{}", kDbMergeUsage);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "merge") {
    throw UsageError(fmt::format("db: unknown command '{}' (allowed: merge)", args[0]));
  }
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "into", po::value<std::string>()->required(), "the results database to merge into");
  po::options_description hidden;
  hidden.add_options()("shards", po::value<std::vector<std::string>>(), "");
  po::positional_options_description pos;
  pos.add("shards", -1);
  po::variables_map vm;
  if (!parse(Args(args.begin() + 1, args.end()), opts, hidden, pos, vm, kDbMergeUsage)) {
    return kExitOk;
  }
  if (!vm.count("shards")) throw UsageError("db merge: name at least one SHARD.db");
  const std::string into = vm["into"].as<std::string>();
  harness::Store store(into);
  for (const auto& shard : vm["shards"].as<std::vector<std::string>>()) {
    std::error_code ec;
    if (std::filesystem::equivalent(shard, into, ec)) {
      throw UsageError(fmt::format("db merge: {} is the database merged into", shard));
    }
    const auto c = store.merge_from(shard);
    fmt::print(stderr, "{}: {} trials added, {} replaced (further along), {} kept; {} sweeps "
               "added\n", shard, c.trials_added, c.trials_replaced, c.trials_kept,
               c.sweeps_added);
  }
  return kExitOk;
}


}  // namespace

int db_merge_command(const Args& args) { return db_command(args); }

int report_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "sweep", po::value<std::string>()->default_value(""),
      "sweep name (default: the most recently run sweep)")(
      "format", po::value<std::string>()->default_value("md"), "md | csv | latex | json | html")(
      "all-metrics", "also APs, APm, APl, and inference ms per image where measured (ms_per_image)")(
      "baseline", po::value<std::string>()->default_value(""),
      "key=value[,key=value...] selecting one configuration: every other row gets its AP minus "
      "the baseline's with a 95% confidence interval (paired t over shared seeds, else Welch)")(
      "check", "exit 1 when one of the sweep's claims fails (for scripts; the report is printed "
               "either way)");
  opts.add(db_option());
  po::variables_map vm;
  po::positional_options_description pos;
  pos.add("sweep", 1);  // `focalab report NAME` as well as --sweep NAME
  if (!parse(args, opts, {}, pos, vm,
             "Usage: focalab report [[--sweep] NAME] [--format md|csv|latex|json|html]\n"
             "                      [--baseline KEY=VALUE[,...]] [--check] [--db FILE]\n\n"
             "Prints a sweep's comparison table: one row per distinct configuration (the config\n"
             "values that vary as columns), the number of seeds n, the trials' status (diverged\n"
             "and failed ones shown), COCO AP/AP50/AP75 x100 as mean ± std over the seeds, the\n"
             "paper's numbers and ΔAP when the sweep names a `reference:`, the best AP marked;\n"
             "then the share of the classification loss from positives, hard and easy negatives\n"
             "early, mid and late in training. LaTeX is a booktabs table (shrunk to the line\n"
             "width when wider; \\usepackage{booktabs,graphicx}); CSV and JSON carry\n"
             "every number unrounded for your own plots.\n\n"
             "With --baseline, each row also shows its AP minus the baseline row's and the 95%\n"
             "confidence interval of that difference: a paired t interval over the seeds when\n"
             "both rows ran the same seeds (same data order and initialization), else Welch's;\n"
             "* marks an interval that excludes 0.\n\n"
             "A sweep's `claims:` (what it expects: better A than B, A close to B, a peak\n"
             "over a key, a configuration that collapses or diverges) end the report with a\n"
             "verdict each:\n"
             "holds or fails when the 95% interval over the seeds clears the claim's line,\n"
             "inconclusive when it straddles it or there is none. A configuration with one seed\n"
             "shows AP [lo, hi], the 95% bootstrap interval over the val images; two of them on\n"
             "the same data are compared by the paired bootstrap. The exit code is 0 either\n"
             "way; with --check it is 1 when a claim fails.\n\n"
             "Examples:\n  focalab report quick\n"
             "  focalab report table1b_gamma --check || echo 'a claim of the paper failed'\n"
             "  focalab report table1b_gamma --baseline loss.kind=alpha_ce\n"
             "  focalab report --sweep quick --format latex > table1.tex\n"
             "  focalab report --format json | jq '.rows[] | select(.best)'\n")) {
    return kExitOk;
  }
  reports::ReportOptions ro;
  ro.db_path = vm["db"].as<std::string>();
  ro.sweep = vm["sweep"].as<std::string>();
  ro.format = vm["format"].as<std::string>();
  ro.all_metrics = vm.count("all-metrics") > 0;
  ro.baseline = vm["baseline"].as<std::string>();
  int64_t failed = 0;
  fmt::print("{}", reports::render_report(ro, &failed));
  return vm.count("check") && failed > 0 ? kExitTrialsFailed : kExitOk;
}

int plot_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "sweep", po::value<std::string>()->default_value(""),
      "sweep name (default: the most recently run sweep)")(
      "kind", po::value<std::string>()->required(),
      "ap-vs-gamma | ap-vs-alpha | loss-share | loss-curves | loss-cdf | delta-vs-imbalance")(
      "out", po::value<std::string>()->required(), "FILE.svg or FILE.png")(
      "trial", po::value<std::string>()->default_value(""),
      "loss-cdf: only this trial (default: every analyzed trial of the sweep)")(
      "baseline", po::value<std::string>()->default_value(""),
      "delta-vs-imbalance: key=value[,...] selecting the configurations compared against");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm,
             "Usage: focalab plot --kind KIND --out FILE.svg|FILE.png [--sweep NAME] [--db FILE]\n\n"
             "Draws a figure from the results database:\n"
             "  ap-vs-gamma  AP (mean, 95% interval over seeds) of the focal-loss trials against gamma,\n"
             "               one line per alpha, beside the paper's Table 1(b) curve\n"
             "  ap-vs-alpha  AP against alpha for alpha-balanced CE (and focal loss per gamma),\n"
             "               beside the paper's Table 1(a)\n"
             "  loss-share   per configuration, the share of the classification loss from\n"
             "               positives, hard and easy negatives over training (stacked)\n"
             "  loss-curves  classification and box loss of every trial over training\n"
             "  loss-cdf     Figure 4: cumulative normalized loss of positive and negative\n"
             "               examples per gamma, for trials `focalab analyze loss-cdf` ran on\n"
             "  delta-vs-imbalance\n"
             "               each configuration's AP minus that of the --baseline configuration\n"
             "               with the same data, model and schedule (every key outside loss.*),\n"
             "               with its 95% interval over seeds (paired t, else Welch), against the\n"
             "               data's binary negatives per positive (`focalab data stats` on 512\n"
             "               training images), log x axis\n"
             "PNG text uses DejaVu Sans (Debian's fonts-dejavu-core; FOCALAB_FONT overrides).\n\n"
             "Examples:\n  focalab plot --sweep quick --kind loss-share --out share.png\n"
             "  focalab plot --sweep table1b --kind ap-vs-gamma --out gamma.svg\n"
             "  focalab plot --sweep regime_imbalance --kind delta-vs-imbalance \\\n"
             "      --baseline loss.kind=alpha_ce --out imbalance.svg\n")) {
    return kExitOk;
  }
  reports::PlotOptions options;
  options.db_path = vm["db"].as<std::string>();
  options.sweep = vm["sweep"].as<std::string>();
  options.kind = vm["kind"].as<std::string>();
  options.out = vm["out"].as<std::string>();
  options.trial = vm["trial"].as<std::string>();
  options.baseline = vm["baseline"].as<std::string>();
  fmt::print(stderr, "{}\n", reports::make_plot(options));
  return kExitOk;
}

int serve_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "port", po::value<int>()->default_value(8050), "TCP port (0: a free one, printed)")(
      "host", po::value<std::string>()->default_value("127.0.0.1"),
      "address to listen on (default: this machine only; 0.0.0.0: every interface)")(
      "max-wait", po::value<int>()->default_value(20),
      "seconds a page's long poll for a running trial may wait, 1..300");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm,
             "Usage: focalab serve [--db FILE] [--port 8050] [--host 127.0.0.1]\n\n"
             "The results database in a browser, read-only, live while sweeps write to it:\n"
             "  /              every sweep: trials done, running, pending, failed, diverged\n"
             "  /sweep/NAME    the comparison table, loss shares and claims as `focalab report`\n"
             "                 prints them, the sweep's plots, running trials with ETA\n"
             "  /trial/KEY     config, status, loss curves, where the classification loss came\n"
             "                 from (over training and per class), evaluations, per-class AP\n"
             "Pages of running sweeps and trials update themselves (JSON under /api/). The\n"
             "database is opened read-only for every request; nothing is written. Every asset\n"
             "is in the binary. Ctrl-C (or SIGTERM) stops the server (exit 0).\n\n"
             "Examples:\n  focalab serve --db runs.db            # then open http://127.0.0.1:8050/\n"
             "  focalab sweep run experiments/quick.yaml --db runs.db & focalab serve --db runs.db\n"
             "  ssh -L 8050:127.0.0.1:8050 cluster   # a database on another machine, served there\n\n"
             "Exit codes: 0 stopped, 2 usage error (port in use), 4 database error.\n")) {
    return kExitOk;
  }
  reports::ServeOptions so;
  so.db_path = vm["db"].as<std::string>();
  so.host = vm["host"].as<std::string>();
  so.port = vm["port"].as<int>();
  so.max_wait_seconds = vm["max-wait"].as<int>();
  if (so.port < 0 || so.port > 65535) {
    throw UsageError(fmt::format("--port {}: allowed 0..65535 (0: a free port)", so.port));
  }
  if (so.max_wait_seconds < 1 || so.max_wait_seconds > 300) {
    throw UsageError(fmt::format("--max-wait {}: allowed 1..300 seconds", so.max_wait_seconds));
  }
  reports::serve(so, [&](const std::string& url) {
    fmt::print(stderr, "focalab serve: {} -> {} (read-only; Ctrl-C stops)\n", so.db_path, url);
    if (so.host != "127.0.0.1" && so.host != "localhost" && so.host != "::1") {
      fmt::print(stderr, "focalab serve: listening on {}: anyone who can reach this machine "
                         "can read the results\n", so.host);
    }
    std::fflush(stderr);
  });
  return kExitOk;
}

int query_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "format", po::value<std::string>()->default_value("table"), "table | csv | json")(
      "trial", po::value<std::string>()->default_value(""), "the trial of `steps` / `breakdown`")(
      "timeout", po::value<double>()->default_value(60),
      "stop the query after this many seconds (Ctrl-C also stops it)")(
      "max-rows", po::value<int64_t>()->default_value(1000000),
      "refuse a result of more rows (they are held in memory to be formatted)");
  opts.add(db_option());
  po::options_description hidden;
  hidden.add_options()("sql", po::value<std::string>()->required(), "");
  po::positional_options_description pos;
  pos.add("sql", 1);
  po::variables_map vm;
  if (!parse(args, opts, hidden, pos, vm,
             "Usage: focalab query SQL|TABLE|NAME [--trial KEY] [--format table|csv|json] [--db FILE]\n\n"
             "Runs a read-only SQL statement on the results database (statements that would\n"
             "write are refused). A bare table or view name selects all of it. Tables: sweeps,\n"
             "trials, sweep_trials, train_steps, loss_breakdown, loss_intervals, loss_histogram,\n"
             "evaluations, class_ap, loss_cdf; view: results (docs/SCHEMA.md). Canned queries: trials,\n"
             "results, steps --trial KEY, breakdown --trial KEY.\n\n"
             "Examples:\n  focalab query results\n"
             "  focalab query trials\n"
             "  focalab query steps --trial 0f6903c44ae08994 --format csv\n"
             "  focalab query breakdown --trial 0f6903c44ae08994\n"
             "  focalab query \"SELECT loss, gamma, alpha, AP50 FROM results\" --format csv\n")) {
    return kExitOk;
  }
  const std::string sql = vm["sql"].as<std::string>();
  const std::string named = reports::named_query(sql, vm["trial"].as<std::string>());
  reports::QueryLimits limits;
  limits.timeout_s = vm["timeout"].as<double>();
  limits.max_rows = vm["max-rows"].as<int64_t>();
  fmt::print("{}", reports::run_query(vm["db"].as<std::string>(), named.empty() ? sql : named,
                                      reports::parse_query_format(vm["format"].as<std::string>()),
                                      limits));
  return kExitOk;
}

}  // namespace focalab::harness::cli
