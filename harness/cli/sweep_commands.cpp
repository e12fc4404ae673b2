// `focalab sweep run|plan|status|slurm` and `focalab train`.

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
#include "harness/util/json.h"
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

const char* kSweepRunUsage = R"(Usage: focalab sweep run SWEEP.yaml [key=value ...] [options]

Trains and evaluates every trial of a sweep that is not done yet, recording steps, the loss
breakdown and COCO AP in the results database. Re-running the same file runs only new or
unfinished trials; Ctrl-C marks the running trial interrupted (it runs again next time).

Examples:
  focalab sweep run experiments/quick.yaml
  focalab sweep run experiments/quick.yaml train.iterations=100 --db /tmp/try.db
  focalab sweep run experiments/quick.yaml --rerun failed,diverged --threads 2
  focalab sweep run experiments/quick.yaml --jobs 3 --threads 6     # 3 trials at once
  focalab sweep run big.yaml --devices cuda:0,cuda:1                 # one trial per GPU

Several `sweep run` processes (on one machine or several sharing the file) may run the same
sweep on one database: each trial is claimed by one of them. After a crash or kill -9, running
the sweep again resumes unfinished trials from their last checkpoint (train.checkpoint_every).
With --jobs, a worker process that dies in a trial (a crash, a kill) is named with its exit
code or signal, and its trial is marked interrupted so that the next run resumes it.

Exit codes: 0 all trials done, 1 some failed or diverged, 2 usage/config error,
3 data error, 4 database error, 5 interrupted, 70 internal error (with --jobs: a worker
died in a trial).
)";

const char* kSweepPlanUsage = R"(Usage: focalab sweep plan SWEEP.yaml [key=value ...] [options]

Validates a sweep and lists its trials (key, varied values, seed and status in the database)
without running anything. Input files that are not on this machine (a COCO dataset or backbone
weights that live on the cluster) do not stop the listing: such trials are marked `missing` and
the files are named after the list (`sweep run` refuses them before writing anything).

Examples:
  focalab sweep plan experiments/quick.yaml
  focalab sweep plan experiments/quick.yaml loss.gamma=1 --print-config 0
  focalab sweep plan experiments/paper/table1b_gamma.yaml --require-data   # as `sweep run` checks
)";

const char* kSweepStatusUsage = R"(Usage: focalab sweep status [options]

Summarizes a results database: trials per status for every sweep.

Example:
  focalab sweep status --db focalab.db
)";

int sweep_run(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "device", po::value<std::string>()->default_value(""),
      "auto | cpu | cuda | cuda:N (default: the sweep's `device:`, else auto)")(
      "threads", po::value<int64_t>(),
      "CPU threads for LibTorch (default: the sweep's `threads:`, else all cores)")(
      "fail-fast", "stop at the first failed trial")(
      "rerun", po::value<std::string>()->default_value(""),
      "also rerun trials in these states: failed,diverged[,done]")(
      "checkpoint-dir", po::value<std::string>()->default_value(""),
      "where trial checkpoints go (default: DB-checkpoints/ next to the database)")(
      "jobs,j", po::value<int64_t>(),
      "run N trials at once, in N worker processes sharing the database, the CPU threads "
      "divided between them (default: the sweep's `jobs:`, else 1)")(
      "devices", po::value<std::string>()->default_value(""),
      "comma list of devices (cuda:0,cuda:1,...): one worker process and trial per device")(
      "trial", po::value<std::string>()->default_value(""),
      "run only these trials: comma list of keys (as `sweep plan` lists them)");
  po::variables_map vm;
  const auto parsed = parse_sweep_args(args, opts, kSweepRunUsage, vm);
  if (!parsed) return kExitOk;
  const auto& spec = *parsed;
  harness::RunOptions run;
  run.db_path = vm["db"].as<std::string>();
  run.device = vm["device"].as<std::string>();
  if (run.device.empty()) run.device = spec.device.value_or("auto");
  run.threads = vm.count("threads") ? vm["threads"].as<int64_t>() : spec.threads.value_or(0);
  run.fail_fast = vm.count("fail-fast") > 0;
  run.rerun = parse_rerun(vm["rerun"].as<std::string>());
  run.checkpoint_dir = vm["checkpoint-dir"].as<std::string>();
  if (!run.checkpoint_dir.empty()) harness::require_output_dir(run.checkpoint_dir, "--checkpoint-dir");
  {
    std::stringstream ss(vm["trial"].as<std::string>());
    std::string key;
    while (std::getline(ss, key, ',')) {
      if (!key.empty()) run.only_keys.insert(key);
    }
  }
  std::vector<std::string> devices;
  {
    std::stringstream ss(vm["devices"].as<std::string>());
    std::string d;
    while (std::getline(ss, d, ',')) {
      if (!d.empty()) devices.push_back(d);
    }
  }
  const int64_t jobs = !devices.empty() ? static_cast<int64_t>(devices.size())
                       : vm.count("jobs")  ? vm["jobs"].as<int64_t>()
                                           : spec.jobs.value_or(1);
  if (jobs < 1 || jobs > 256) throw UsageError(fmt::format("--jobs {}: allowed 1..256", jobs));
  if (jobs > 1 && std::getenv("FOCALAB_JOB")) {
    throw UsageError(fmt::format("--jobs {}: this is a worker process of `sweep run --jobs` "
                                 "(FOCALAB_JOB is set); a worker does not start workers",
                                 jobs));
  }
  if (jobs > 1) return run_workers(vm, spec, run, jobs, devices);
  const auto summary = harness::run_sweep(spec, run);
  fmt::print(stderr,
             "sweep {}: {} trials: {} done now, {} done before, {} failed, {} diverged, {} not "
             "run{}\n",
             spec.name, summary.total, summary.done, summary.already_done, summary.failed,
             summary.diverged, summary.not_run,
             summary.interrupted ? " (interrupted)" : "");
  if (summary.interrupted) return kExitInterrupted;
  if (summary.failed || summary.diverged || summary.not_run) return kExitTrialsFailed;
  return kExitOk;
}

const char* kTrainUsage = R"(Usage: focalab train CONFIG.yaml [key=value ...] [options]

Trains and evaluates one configuration (a sweep file without `sweep:`, or one that expands to a
single trial), recorded in the results database like a sweep trial named after the file, and
prints its COCO evaluation. Running it again after it finished prints the stored result; an
interrupted run starts again.

Examples:
  focalab train experiments/configs/tiny.yaml train.iterations=200 --db /tmp/one.db
  focalab train my_coco.yaml data.min_size=512 loss.gamma=1

  where my_coco.yaml trains on a COCO-format dataset:
    base: experiments/configs/tiny.yaml      # or your own model / schedule
    data:
      kind: coco
      train: {annotations: annotations/instances_train.json, images: train/}
      val: {annotations: annotations/instances_val.json, images: val/}
      min_size: 512
      max_size: 853

Exit codes: 0 done, 1 failed or diverged, 2 usage/config error, 3 data error,
4 database error, 5 interrupted.
)";

int train_run(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "device", po::value<std::string>()->default_value(""),
      "auto | cpu | cuda | cuda:N (default: the file's `device:`, else auto)")(
      "threads", po::value<int64_t>(),
      "CPU threads for LibTorch (default: the file's `threads:`, else all cores)")(
      "checkpoint-dir", po::value<std::string>()->default_value(""),
      "where the checkpoint goes (default: DB-checkpoints/ next to the database)");
  po::variables_map vm;
  const auto parsed = parse_sweep_args(args, opts, kTrainUsage, vm);
  if (!parsed) return kExitOk;
  const auto& spec = *parsed;
  const auto trials = harness::expand_sweep(spec);
  if (trials.size() != 1) {
    throw UsageError(fmt::format("train: {} expands to {} trials; train runs one configuration "
                                 "(use `focalab sweep run` for a sweep)",
                                 spec.source_path, trials.size()));
  }
  harness::RunOptions run;
  run.db_path = vm["db"].as<std::string>();
  run.device = vm["device"].as<std::string>();
  if (run.device.empty()) run.device = spec.device.value_or("auto");
  run.threads = vm.count("threads") ? vm["threads"].as<int64_t>() : spec.threads.value_or(0);
  run.rerun = {TrialStatus::kFailed, TrialStatus::kDiverged};
  run.checkpoint_dir = vm["checkpoint-dir"].as<std::string>();
  if (!run.checkpoint_dir.empty()) harness::require_output_dir(run.checkpoint_dir, "--checkpoint-dir");
  const auto summary = harness::run_sweep(spec, run);
  if (summary.interrupted) return kExitInterrupted;
  harness::Database db(run.db_path, harness::Database::Mode::kReadOnly);
  auto st = db.prepare(
      "SELECT t.status, e.metric, e.value FROM trials t LEFT JOIN evaluations e "
      "ON e.trial_id = t.id AND e.split = 'val' WHERE t.key = ?1");
  st.bind(1, trials.front().key);
  harness::CocoSummary val;
  std::string status = "?";
  int found = 0;
  while (st.step()) {
    status = st.get_text(0);
    if (st.is_null(1)) continue;
    const std::string metric = st.get_text(1);
    for (size_t k = 0; k < 12; ++k) {
      if (metric == harness::CocoSummary::kNames[k]) {
        val.stats[k] = st.is_null(2) ? -1 : st.get_double(2);
        ++found;
      }
    }
  }
  fmt::print(stderr, "trial {} ({}): {} -> {}\n", trials.front().key, spec.name, status,
             run.db_path);
  if (status != "done") return kExitTrialsFailed;
  if (found == 12) fmt::print("{}", summary_text(val));
  return kExitOk;
}


const char* kSweepSlurmUsage = R"(Usage: focalab sweep slurm SWEEP.yaml [key=value ...] --out job.sbatch [options]

Writes an sbatch array script with one task per trial of the sweep that is not done in --db
(default: all trials when the database does not exist). Each task runs its trial with
`focalab sweep run --trial KEY` into a shard database on node-local disk (copied to
--shards-dir when the task ends or is preempted), with checkpoints in --shards-dir so that a
requeued task resumes; `--signal=USR1@120` makes Slurm warn a task two minutes before its time
limit, and focalab then checkpoints and exits. Afterwards fold the shards in:
  focalab db merge SHARDS_DIR/shard-*.db --into results.db

Examples:
  focalab sweep slurm experiments/quick.yaml --out quick.sbatch --partition gpu \
      --gpus-per-task 1 --time 02:00:00
  sbatch quick.sbatch
)";

int sweep_slurm(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "out", po::value<std::string>()->required(), "the sbatch script to write")(
      "shards-dir", po::value<std::string>()->default_value(""),
      "where shard databases, checkpoints and logs go (default: SCRIPT-shards/ next to --out)")(
      "partition", po::value<std::string>()->default_value(""), "#SBATCH --partition")(
      "gpus-per-task", po::value<int64_t>()->default_value(0), "#SBATCH --gpus-per-task")(
      "cpus-per-task", po::value<int64_t>()->default_value(0), "#SBATCH --cpus-per-task")(
      "time", po::value<std::string>()->default_value(""), "#SBATCH --time, e.g. 02:00:00")(
      "mem", po::value<std::string>()->default_value(""), "#SBATCH --mem, e.g. 16G")(
      "focalab", po::value<std::string>()->default_value(""),
      "the focalab binary the tasks run (default: this one)");
  po::variables_map vm;
  const auto parsed = parse_sweep_args(args, opts, kSweepSlurmUsage, vm);
  if (!parsed) return kExitOk;
  const auto& spec = *parsed;
  // The data may live on the cluster's file system only: what is missing here is named, and the
  // array tasks check it where they run.
  const auto trials = harness::expand_sweep(spec, harness::InputCheck::kList);
  {
    std::set<std::string> seen;
    for (const auto& t : trials) {
      for (const auto& m : t.missing_inputs) {
        if (seen.insert(m).second) fmt::print(stderr, "note: not on this machine: {}\n", m);
      }
    }
  }
  namespace fs = std::filesystem;
  harness::require_output_file(vm["out"].as<std::string>(), "--out");
  if (!vm["shards-dir"].as<std::string>().empty()) {
    harness::require_output_dir(vm["shards-dir"].as<std::string>(), "--shards-dir");
  }
  const fs::path out = fs::absolute(vm["out"].as<std::string>());
  const fs::path shards = vm["shards-dir"].as<std::string>().empty()
                              ? fs::path(out.string() + "-shards")
                              : fs::absolute(vm["shards-dir"].as<std::string>());
  std::string binary = vm["focalab"].as<std::string>();
  if (binary.empty()) {  // the `focalab` that handed this command over, else this program
    const char* front = std::getenv("FOCALAB_FRONT");
    binary = front && *front ? std::string(front) : fs::read_symlink("/proc/self/exe").string();
  }
  // Trials already done in --db are left out.
  std::set<std::string> done;
  const std::string db_path = vm["db"].as<std::string>();
  std::error_code ec;
  if (fs::exists(db_path, ec)) {
    harness::Database db(db_path, harness::Database::Mode::kReadOnly);
    auto st = db.prepare("SELECT key FROM trials WHERE status = 'done'");
    while (st.step()) done.insert(st.get_text(0));
  }
  std::vector<std::string> keys;
  for (const auto& t : trials) {
    if (!done.count(t.key)) keys.push_back(t.key);
  }
  if (keys.empty()) {
    fmt::print(stderr, "sweep {}: every trial is done in {}; no script written\n", spec.name,
               db_path);
    return kExitOk;
  }
  auto quote = [](const std::string& text) {
    std::string q = "'";
    for (char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string overrides;
  for (const auto& o : spec.overrides) overrides += " " + quote(o.text);
  std::string script = "#!/bin/bash\n";
  script += fmt::format("# focalab sweep {}: {} trials, one array task each (written by `focalab "
                        "sweep slurm`).\n# Then: {} db merge {}/shard-*.db --into results.db\n",
                        spec.name, keys.size(), binary, shards.string());
  script += fmt::format("#SBATCH --job-name=focalab-{}\n", spec.name);
  script += fmt::format("#SBATCH --array=0-{}\n", keys.size() - 1);
  script += "#SBATCH --signal=USR1@120\n#SBATCH --requeue\n";
  script += fmt::format("#SBATCH --output={}/logs/%A_%a.log\n", shards.string());
  if (!vm["partition"].as<std::string>().empty()) {
    script += fmt::format("#SBATCH --partition={}\n", vm["partition"].as<std::string>());
  }
  if (vm["gpus-per-task"].as<int64_t>() > 0) {
    script += fmt::format("#SBATCH --gpus-per-task={}\n", vm["gpus-per-task"].as<int64_t>());
  }
  if (vm["cpus-per-task"].as<int64_t>() > 0) {
    script += fmt::format("#SBATCH --cpus-per-task={}\n", vm["cpus-per-task"].as<int64_t>());
  }
  if (!vm["time"].as<std::string>().empty()) {
    script += fmt::format("#SBATCH --time={}\n", vm["time"].as<std::string>());
  }
  if (!vm["mem"].as<std::string>().empty()) {
    script += fmt::format("#SBATCH --mem={}\n", vm["mem"].as<std::string>());
  }
  script += "set -u\n";
  script += fmt::format("KEYS=({})\n", fmt::join(keys, " "));
  script += "KEY=${KEYS[$SLURM_ARRAY_TASK_ID]}\n";
  script += fmt::format("SHARDS={}\n", quote(shards.string()));
  script += "LOCAL=\"${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/focalab-${SLURM_JOB_ID}-${SLURM_ARRAY_TASK_ID}\"\n";
  script += "mkdir -p \"$LOCAL\" \"$SHARDS/checkpoints\"\n";
  script += "# a requeued task continues the shard it saved\n";
  script += "[[ -f \"$SHARDS/shard-$KEY.db\" ]] && cp \"$SHARDS/shard-$KEY.db\" \"$LOCAL/shard.db\"\n";
  script += "# USR1 (time limit near) / TERM (preemption) reach focalab, which checkpoints and exits\n";
  script += fmt::format(
      "{} sweep run {}{} --trial \"$KEY\" --db \"$LOCAL/shard.db\" --checkpoint-dir "
      "\"$SHARDS/checkpoints\"{} &\n",
      quote(binary), quote(fs::absolute(spec.source_path).string()), overrides,
      vm["cpus-per-task"].as<int64_t>() > 0
          ? fmt::format(" --threads {}", vm["cpus-per-task"].as<int64_t>())
          : std::string());
  script += "pid=$!\ntrap 'kill -USR1 $pid' USR1\ntrap 'kill -TERM $pid' TERM\n";
  script += "wait $pid; rc=$?\n";
  script += "while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done\n";
  script += "cp \"$LOCAL/shard.db\" \"$SHARDS/shard-$KEY.db.tmp\" && "
            "mv \"$SHARDS/shard-$KEY.db.tmp\" \"$SHARDS/shard-$KEY.db\"\n";
  script += "rm -rf \"$LOCAL\"\n";
  script += "# interrupted (5): ask Slurm to run the task again; it resumes from its checkpoint\n";
  script += "[[ $rc == 5 ]] && scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n";
  script += "exit $rc\n";
  fs::create_directories(shards / "logs", ec);
  if (ec) throw DataError(fmt::format("{}: cannot create ({})", shards.string(), ec.message()));
  harness::write_file_atomically(out.string(), script, "--out");
  fs::permissions(out, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add, ec);
  fmt::print(stderr, "wrote {}: {} array tasks ({} trials done already); shards in {}\n",
             out.string(), keys.size(), trials.size() - keys.size(), shards.string());
  fmt::print("{}\n", out.string());
  return kExitOk;
}

int sweep_plan(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "print-config", po::value<int64_t>(),
      "print the resolved config of trial N (0-based, as listed) as JSON and exit")(
      "require-data", "refuse, as `sweep run` does, when an input file is missing (exit 3)");
  po::variables_map vm;
  const auto parsed = parse_sweep_args(args, opts, kSweepPlanUsage, vm);
  if (!parsed) return kExitOk;
  const auto& spec = *parsed;
  const auto trials = harness::expand_sweep(spec, vm.count("require-data")
                                                      ? harness::InputCheck::kRequire
                                                      : harness::InputCheck::kList);
  if (vm.count("print-config")) {
    const int64_t n = vm["print-config"].as<int64_t>();
    if (n < 0 || n >= static_cast<int64_t>(trials.size())) {
      throw UsageError(fmt::format("--print-config {}: the sweep has trials 0..{}", n,
                                   trials.size() - 1));
    }
    // one key a line, each value as the canonical JSON has it (lists stay on their line)
    const auto config = harness::parse_json<harness::ConfigError>(
        trials[static_cast<size_t>(n)].config_json, "trial config");
    std::vector<std::string> lines;
    for (const auto& [key, value] : config.items()) {
      lines.push_back(fmt::format("  {}: {}", harness::compact_json(harness::Json(key)),
                                  harness::canonical_json(value)));
    }
    const std::string pretty = fmt::format("{{\n{}\n}}", fmt::join(lines, ",\n"));
    fmt::print("{}\n", pretty);
    return kExitOk;
  }
  std::vector<harness::TrialConfig> configs;
  for (const auto& t : trials) configs.push_back(t.config);
  const auto varied = harness::varied_keys(configs);
  const std::string db_path = vm["db"].as<std::string>();
  std::unique_ptr<harness::Database> db;
  std::error_code ec;
  if (std::filesystem::exists(db_path, ec)) {
    db = std::make_unique<harness::Database>(db_path, harness::Database::Mode::kReadOnly);
  }
  fmt::print("sweep {} ({}): {} trials{}\n", spec.name, spec.source_path, trials.size(),
             spec.reference.empty() ? "" : ", reference " + spec.reference);
  std::set<std::string> missing;  // each message once, in order of first appearance below
  std::vector<std::string> missing_order;
  for (size_t i = 0; i < trials.size(); ++i) {
    std::string status = trials[i].missing_inputs.empty() ? "new" : "missing";
    for (const auto& m : trials[i].missing_inputs) {
      if (missing.insert(m).second) missing_order.push_back(m);
    }
    if (db) {
      try {
        auto st = db->prepare("SELECT status FROM trials WHERE key = ?1");
        st.bind(1, trials[i].key);
        if (st.step()) status = st.get_text(0);
      } catch (const StoreError&) {
        status = "?";
      }
    }
    fmt::print("{:>3}  {}  {:<11}  seed={}  {}\n", i, trials[i].key, status,
               trials[i].config.seed, harness::trial_label(trials[i].config, varied));
  }
  if (!missing_order.empty()) {
    fmt::print("missing on this machine (sweep run refuses these trials here):\n");
    for (const auto& m : missing_order) fmt::print("  {}\n", m);
  }
  return kExitOk;
}

int sweep_status(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm, kSweepStatusUsage)) return kExitOk;
  fmt::print("{}", reports::run_query(
                       vm["db"].as<std::string>(),
                       "SELECT s.name AS sweep, count(*) AS trials, "
                       "sum(t.status = 'done') AS done, sum(t.status = 'running') AS running, "
                       "sum(t.status = 'pending') AS pending, "
                       "sum(t.status = 'interrupted') AS interrupted, "
                       "sum(t.status = 'failed') AS failed, sum(t.status = 'diverged') AS diverged, "
                       "s.updated_at AS last_run FROM sweeps s JOIN sweep_trials st ON "
                       "st.sweep_id = s.id JOIN trials t ON t.id = st.trial_id GROUP BY s.id "
                       "ORDER BY s.updated_at",
                       reports::QueryFormat::kTable));
  return kExitOk;
}



}  // namespace

int train_command(const Args& args) { return train_run(args); }

int sweep_command(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    fmt::print(
        "Usage: focalab sweep run|plan|status ...\n\n"
        "  run     train and evaluate the trials of a sweep that are not done yet\n"
        "  plan    validate a sweep and list its trials without running them\n"
        "  status  trials per status in a results database\n"
        "  slurm   write an sbatch array script, one task per unfinished trial\n\n"
        "Example:\n  focalab sweep run experiments/quick.yaml\n"
        "Run `focalab sweep <command> --help` for the options of each.\n");
    return args.empty() ? kExitUsage : kExitOk;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "run") return sweep_run(rest);
  if (args[0] == "plan") return sweep_plan(rest);
  if (args[0] == "status") return sweep_status(rest);
  if (args[0] == "slurm") return sweep_slurm(rest);
  throw UsageError(
      fmt::format("sweep: unknown command '{}' (allowed: run, plan, status, slurm)", args[0]));
}

}  // namespace focalab::harness::cli
