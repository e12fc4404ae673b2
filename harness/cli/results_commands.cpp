// `focalab report`, `query`, `db merge` and `eval-json`: results read (the database, or COCO
// results files) — commands of the light front, which does not load LibTorch.

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/cli/cli_common.h"
#include "harness/eval/coco_files.h"
#include "harness/store/store.h"
#include "harness/util/errors.h"
#include "harness/util/paths.h"
#include "reports/query.h"
#include "reports/report.h"

namespace focalab::harness::cli {

namespace po = boost::program_options;

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
               "either way)")(
      "figures", po::value<std::string>()->default_value(""),
      "latex: write the sweep's plots as PDF into this folder and include each after the table");
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
             "width when wider; \\usepackage{booktabs,graphicx}), with --figures DIR the sweep's\n"
             "plots as PDF files in DIR, each in a figure environment; CSV and JSON carry\n"
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
             "  focalab report --sweep quick --format latex --figures figs > quick.tex\n"
             "  focalab report --format json | jq '.rows[] | select(.best)'\n")) {
    return kExitOk;
  }
  reports::ReportOptions ro;
  ro.db_path = vm["db"].as<std::string>();
  ro.sweep = vm["sweep"].as<std::string>();
  ro.format = vm["format"].as<std::string>();
  ro.all_metrics = vm.count("all-metrics") > 0;
  ro.baseline = vm["baseline"].as<std::string>();
  ro.figures_dir = vm["figures"].as<std::string>();
  if (!ro.figures_dir.empty() && ro.format != "latex") {
    throw UsageError(fmt::format("--figures goes with --format latex (the html report has its "
                                 "figures inline), not --format {}", ro.format));
  }
  int64_t failed = 0;
  fmt::print("{}", reports::render_report(ro, &failed));
  return vm.count("check") && failed > 0 ? kExitTrialsFailed : kExitOk;
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

const char* kEvalJsonUsage = R"(Usage: focalab eval-json --gt GT.json --dt DT.json [--json]

Scores a COCO results file (a list of {image_id, category_id, bbox [x, y, w, h], score}) against
a COCO instances file with pycocotools' COCOeval semantics for bounding boxes, and prints the 12
summary lines in pycocotools' format, or with --json one object with AP, AP50, AP75, APs, APm,
APl, AR1, AR10, AR100, ARs, ARm, ARl and the per-class AP / AP50 (-1: no ground truth).
Every image of the ground truth is evaluated; detections of categories the ground truth does
not have are skipped (counted on stderr); a detection on an image it does not have is an error.

Examples:
  focalab eval-json --gt instances_val2017.json --dt detections.json
  focalab eval-json --gt instances_val2017.json --dt detections.json --json | jq .AP

Exit codes: 0 ok, 2 usage error, 3 missing, empty or malformed file.
)";

int eval_json_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "gt", po::value<std::string>()->required(), "COCO instances (ground-truth) JSON")(
      "dt", po::value<std::string>()->required(), "COCO results (detections) JSON")(
      "json", "print one JSON object instead of the 12 summary lines");
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm, kEvalJsonUsage)) return kExitOk;
  harness::require_input_file(vm["gt"].as<std::string>(), "--gt");
  harness::require_input_file(vm["dt"].as<std::string>(), "--dt");
  const auto start = std::chrono::steady_clock::now();
  const CocoFileEval eval =
      evaluate_coco_files(vm["gt"].as<std::string>(), vm["dt"].as<std::string>());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "eval-json: {} images, {} categories, {} annotations, {} detections{} "
             "({:.2f} s)\n", eval.num_images, eval.categories.size(), eval.num_annotations,
             eval.num_detections,
             eval.detections_unknown_category
                 ? fmt::format(" ({} of categories not in the ground truth skipped)",
                               eval.detections_unknown_category)
                 : std::string(),
             seconds);
  fmt::print("{}", vm.count("json") ? summary_json(eval) : summary_text(eval.summary));
  return kExitOk;
}

}  // namespace focalab::harness::cli
