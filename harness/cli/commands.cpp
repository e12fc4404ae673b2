#include "harness/cli/commands.h"

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
#include "harness/coco_dataset_tools.h"
#include "harness/coco_files.h"
#include "harness/data_stats.h"
#include "harness/dataset.h"
#include "harness/export.h"
#include "harness/progress.h"
#include "harness/config.h"
#include "harness/device.h"
#include "harness/errors.h"
#include "harness/image_io.h"
#include "harness/loss_cdf.h"
#include "harness/paths.h"
#include "harness/reference.h"
#include "harness/predict.h"
#include "harness/weights.h"
#include "harness/scheduler.h"
#include "harness/sqlite.h"
#include "harness/store.h"
#include "harness/sweep.h"
#include "harness/trainer.h"
#include "harness/trial_model.h"
#include "reports/chart.h"
#include "reports/plot.h"
#include "reports/query.h"
#include "reports/report.h"
#include "reports/serve.h"
#include "reports/sweep_data.h"

namespace focalab::cli {

namespace po = boost::program_options;
using harness::TrialStatus;

namespace {

using harness::write_file_atomically;

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
bool parse(const Args& args, po::options_description& visible, const po::options_description& hidden,
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

std::atomic<int> g_forward_signal{0};
extern "C" void on_parent_signal(int sig) { g_forward_signal.store(sig); }

// `sweep run --jobs N`: N worker processes of this program run the sweep on the same database
// (trials are claimed, so each runs once), with the CPU threads divided between them or one
// device each; the parent forwards SIGTERM/SIGUSR1 (the terminal's Ctrl-C reaches them all),
// waits, and summarizes the sweep from the database.
// The arguments of a `--jobs` worker: rebuilt from the parsed options, never by filtering the
// command line — every spelling Boost accepts (-j2, --job 2, --jobs=2, ...) is then consumed by
// the parent alone. `jobs` is not passed on, and a worker refuses --jobs > 1 (FOCALAB_JOB set).
std::vector<std::string> worker_arguments(const po::variables_map& vm, int64_t threads,
                                          const std::string& device) {
  std::vector<std::string> out = {"sweep", "run", vm["file"].as<std::string>()};
  for (const auto& o : overrides_of(vm)) out.push_back(o);
  out.insert(out.end(), {"--db", vm["db"].as<std::string>(), "--rerun",
                         vm["rerun"].as<std::string>(), "--checkpoint-dir",
                         vm["checkpoint-dir"].as<std::string>(), "--trial",
                         vm["trial"].as<std::string>(), "--threads", std::to_string(threads),
                         "--device", device, "--jobs", "1"});
  if (vm.count("fail-fast")) out.push_back("--fail-fast");
  return out;
}

int run_workers(const po::variables_map& vm, const harness::SweepSpec& spec,
                const harness::RunOptions& run, int64_t jobs,
                const std::vector<std::string>& devices) {
  // Validate everything (config, data, devices, threads) once, before starting anything.
  const auto trials = harness::expand_sweep(spec);
  for (const auto& d : devices) harness::resolve_device(d);
  if (devices.empty()) harness::resolve_device(run.device);
  const int64_t total_threads =
      run.threads > 0 ? run.threads
                      : static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  harness::check_threads(total_threads);
  // No more workers than trials: the threads go to the workers that have a trial to run.
  if (devices.empty()) jobs = std::clamp<int64_t>(static_cast<int64_t>(trials.size()), 1, jobs);
  const int64_t per_job = std::max<int64_t>(1, total_threads / jobs);
  // The database and its schema exist before the workers race to open it (and a database that
  // cannot be opened is reported before anything is printed or started).
  { harness::Store store(run.db_path); }
  fmt::print(stderr, "sweep {}: {} trials, {} worker processes{} -> {}\n", spec.name,
             trials.size(), jobs,
             devices.empty() ? fmt::format(" x {} threads", per_job)
                             : fmt::format(" on {}", fmt::join(devices, ", ")),
             run.db_path);
  struct sigaction sa {};
  sa.sa_handler = on_parent_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);
  // An inherited SIGCHLD = SIG_IGN would reap the workers by itself: their ends would not be
  // seen, nor their trials released.
  signal(SIGCHLD, SIG_DFL);
  // The workers' environment is made here: between fork and exec only async-signal-safe calls
  // are allowed (another thread of this process may hold the allocator's lock at the fork).
  // Workers share the cores, so OpenMP threads that wait sleep instead of spinning (libgomp's
  // default spins, stealing the cores other workers compute on), unless the user chose.
  std::vector<std::string> env_base;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "FOCALAB_JOB=", 12) != 0) env_base.emplace_back(*e);
  }
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) env_base.emplace_back("OMP_WAIT_POLICY=PASSIVE");
  std::map<pid_t, int64_t> children;  // pid -> job number
  for (int64_t j = 0; j < jobs; ++j) {
    std::vector<std::string> argv_s = {"focalab"};
    for (auto& a : worker_arguments(vm, per_job,
                                    devices.empty() ? run.device : devices[static_cast<size_t>(j)])) {
      argv_s.push_back(std::move(a));
    }
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s = env_base;
    env_s.push_back(fmt::format("FOCALAB_JOB={}", j + 1));
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw Error(fmt::format("--jobs: cannot start a worker: {}", std::strerror(errno)));
    if (pid == 0) {
      execve("/proc/self/exe", argv.data(), envp.data());
      _exit(127);
    }
    children[pid] = j + 1;
  }
  int worst = kExitOk;
  bool interrupted = false;
  bool abandoned = false;
  size_t running = children.size();
  std::string store_error;  // a release that failed: said at the end, after every worker ended
  auto forward = [&] {
    const int sig = g_forward_signal.exchange(0);
    if (sig == SIGTERM || sig == SIGUSR1) {
      for (const auto& c : children) kill(c.first, sig);
    }
    interrupted = interrupted || sig != 0;
  };
  while (running > 0) {
    forward();  // a signal that came while this loop was not waiting
    // A child that ended is looked at without being reaped (WNOWAIT): until waitpid below, its
    // pid stays taken, so a sibling worker cannot take its trial for a dead process's first;
    // the trial is released here, with the reason, and only then is the child reaped.
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0) {
      if (errno != EINTR) break;
      forward();
      continue;
    }
    const pid_t pid = info.si_pid;
    const auto child = children.find(pid);
    if (child == children.end()) {
      waitpid(pid, nullptr, 0);
      continue;
    }
    --running;
    const bool exited = info.si_code == CLD_EXITED;
    const int code = exited ? info.si_status : kExitInternal;
    const std::string how =
        exited ? fmt::format("exited with code {}", code)
               : fmt::format("was killed by signal {} ({})", info.si_status,
                             strsignal(info.si_status));
    if (!exited || (code != kExitOk && code != kExitTrialsFailed && code != kExitInterrupted)) {
      fmt::print(stderr, "sweep {}: job {} (pid {}) {}\n", spec.name, child->second, pid, how);
    }
    // A worker that ends with a trial still `running` died in it (a crash, a kill, a library
    // that called exit): the trial is released, so that the next run (or a sibling worker that
    // has not reached it yet) resumes it.
    std::vector<std::string> lost;
    try {
      lost = harness::Store(run.db_path).release_trials_of(
          pid, fmt::format("its worker process (job {}, pid {}) {} while running it", child->second,
                           pid, how));
    } catch (const std::exception& e) {
      // The other workers go on; their ends are still awaited (a trial left `running` by a dead
      // process is resumed by the next run all the same).
      if (store_error.empty()) store_error = e.what();
    }
    waitpid(pid, nullptr, 0);
    const int64_t job = child->second;
    children.erase(child);  // its pid is free now: no signal is forwarded to it again
    for (const auto& key : lost) {
      fmt::print(stderr,
                 "sweep {}: job {} (pid {}) {} while running trial {}: marked interrupted; it "
                 "resumes from its last checkpoint on the next run\n",
                 spec.name, job, pid, how, key);
      abandoned = true;
    }
    if (code == kExitInterrupted) interrupted = true;
    if (code != kExitOk && code != kExitTrialsFailed && code != kExitInterrupted) worst = code;
  }
  if (!store_error.empty()) throw StoreError(store_error);
  if (abandoned && worst == kExitOk) worst = kExitInternal;
  harness::Store store(run.db_path);
  std::vector<std::string> keys;
  for (const auto& t : trials) keys.push_back(t.key);
  std::map<TrialStatus, int64_t> counts = store.status_counts(keys);
  auto n = [&](TrialStatus s) { return counts.count(s) ? counts[s] : int64_t{0}; };
  fmt::print(stderr,
             "sweep {}: {} trials: {} done, {} failed, {} diverged, {} interrupted, {} pending\n",
             spec.name, trials.size(), n(TrialStatus::kDone), n(TrialStatus::kFailed),
             n(TrialStatus::kDiverged), n(TrialStatus::kInterrupted) + n(TrialStatus::kRunning),
             n(TrialStatus::kPending));
  if (worst != kExitOk) return worst;
  if (interrupted) return kExitInterrupted;
  return n(TrialStatus::kDone) == static_cast<int64_t>(trials.size()) ? kExitOk
                                                                       : kExitTrialsFailed;
}

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
  if (binary.empty()) binary = fs::read_symlink("/proc/self/exe").string();
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
  const std::string tmp = out.string() + ".tmp";
  {
    std::ofstream f(tmp);
    f << script;
    if (!f) throw DataError(fmt::format("{}: cannot write", out.string()));
  }
  fs::rename(tmp, out, ec);
  if (ec) throw DataError(fmt::format("{}: cannot write ({})", out.string(), ec.message()));
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
    std::string json = trials[static_cast<size_t>(n)].config_json;
    // one key per line; lists and strings stay whole
    std::string pretty;
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : json) {
      pretty += c;
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
        continue;
      }
      if (c == '"') in_string = true;
      if (c == '[') ++depth;
      if (c == ']') --depth;
      if (depth == 0 && (c == '{' || c == ',')) pretty += "\n  ";
    }
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


const char* kPredictUsage = R"(Usage: focalab predict --arch NAME --weights W.pth --image PATH [--image PATH ...]
                       [--out dets.json] [options]
       focalab predict --trial KEY --image PATH [--image PATH ...] [--db FILE] [options]

Runs a RetinaNet checkpoint on images and writes COCO results JSON (image_id, category_id,
bbox [x, y, w, h], score) in original-image pixels. The weights are a state_dict saved by
torch.save (zip or legacy format), e.g. torchvision's retinanet_resnet50_fpn, loaded without
conversion; the number of classes is read from them. A directory --image runs on its image
files in name order; image ids are the file name's number when it is all digits (COCO's
000000397133.jpg -> 397133), else the position in the list.

Architectures: retinanet_resnet50_fpn (torchvision v1: P6 from P5, no head norm),
retinanet_resnet50_fpn_v2 (P6 from C5, GroupNorm heads); both as torchvision sets them
(anchors, 800 / 1333 resize, padding to 32, 300 detections).

--trial KEY runs a done trial of the results database instead: the model its config describes,
with the weights of its final checkpoint, resized and postprocessed as the trial's evaluation
was (synthetic data: the image side; COCO data: data.min_size / max_size; padding to 128; the
trial's score threshold, candidates, NMS and detections). Labels map to the trial's category
ids: 1..K for synthetic data (as `focalab data synth` writes them), the annotations' ids for
COCO data (read from the trial's data.val; --data-root where it is not the trial's). The
--min-size, --max-size, --score-thresh and --detections given override the trial's.

Examples:
  focalab predict --arch retinanet_resnet50_fpn --weights retinanet_resnet50_fpn_coco.pth \
      --image 000000397133.jpg --out dets.json
  focalab predict --arch retinanet_resnet50_fpn --weights w.pth --image val2017/ --min-size 600
  focalab predict --trial 0f6903c44ae08994 --image shapes/val/ --out dets.json

Exit codes: 0 ok, 2 usage error (also: unknown trial, a trial not done), 3 unreadable weights,
checkpoint or image, 4 database error, 70 internal error.
)";

// The model options shared by predict and eval: --arch/--weights, or --trial (one of them).
void add_model_options(po::options_description& opts) {
  opts.add_options()(
      "arch", po::value<std::string>(),
      "architecture: retinanet_resnet50_fpn | retinanet_resnet50_fpn_v2")(
      "weights", po::value<std::string>(), "state_dict file written by torch.save")(
      "trial", po::value<std::string>(),
      "a done trial's key: its model and final checkpoint (instead of --arch and --weights)")(
      "checkpoint", po::value<std::string>()->default_value(""),
      "with --trial: this checkpoint file instead of the trial's own")(
      "data-root", po::value<std::string>()->default_value(""),
      "with --trial of COCO data: the dataset's data.root here (not stored with a trial)");
}

// Which model the flags name; checks that they name exactly one.
struct ModelChoice {
  std::string trial;  // "" = --arch / --weights
  std::string arch, weights;
};

ModelChoice model_choice(const po::variables_map& vm) {
  ModelChoice c;
  const bool arch = vm.count("arch") > 0, weights = vm.count("weights") > 0;
  if (vm.count("trial")) {
    if (arch || weights) {
      throw UsageError("--trial and --arch/--weights: give one of them (a trial's model, or an "
                       "architecture and its weights)");
    }
    c.trial = vm["trial"].as<std::string>();
    reports::check_trial_key(c.trial);
    return c;
  }
  if (!vm["checkpoint"].defaulted() || !vm["data-root"].defaulted()) {
    throw UsageError("--checkpoint and --data-root go with --trial KEY");
  }
  if (!arch || !weights) {
    throw UsageError(fmt::format("the option '--{}' is required (or --trial KEY for a trained "
                                 "trial)", arch ? "weights" : "arch"));
  }
  c.arch = vm["arch"].as<std::string>();
  c.weights = vm["weights"].as<std::string>();
  arch_preset(c.arch, 1);  // validates the name before the weights are read
  harness::require_input_file(c.weights, "--weights");
  return c;
}

// A trained trial as a PretrainedModel on `device`, with its category ids.
PretrainedModel load_trial_model(const po::variables_map& vm, const std::string& key,
                                 const std::string& who, const torch::Device& device,
                                 std::vector<int64_t>* category_ids,
                                 harness::TrialConfig* config = nullptr) {
  const std::string db_path = vm["db"].as<std::string>();
  reports::require_results_db(db_path);
  harness::TrainedTrial t = harness::load_trained_trial(
      db_path, key, vm["checkpoint"].as<std::string>(), vm["data-root"].as<std::string>(), who);
  if (category_ids) *category_ids = harness::trial_category_ids(t.config);
  fmt::print(stderr, "trial {}: {}, {} classes, {} after {} iterations\n", key,
             t.config.model.backbone, t.config.data.num_classes, t.checkpoint, t.iteration);
  PretrainedModel m;
  m.preset = trial_preset(t.config);
  m.model = t.model;
  m.model->to(device);
  m.model->eval();
  if (config) *config = t.config;
  return m;
}

}  // namespace

int predict_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help");
  add_model_options(opts);
  opts.add_options()(
      "image", po::value<std::vector<std::string>>()->required(),
      "image file or directory (repeatable)")(
      "out", po::value<std::string>()->default_value("-"),
      "COCO results JSON file (default: - = stdout)")(
      "min-size", po::value<int64_t>()->default_value(800), "shorter side after resizing")(
      "max-size", po::value<int64_t>()->default_value(1333), "longer side bound")(
      "score-thresh", po::value<double>()->default_value(0.05), "minimum detection score")(
      "detections", po::value<int64_t>()->default_value(300), "detections kept per image")(
      "device", po::value<std::string>()->default_value("auto"), "auto | cpu | cuda | cuda:N")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (default: all cores)");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm, kPredictUsage)) return kExitOk;
  const int64_t min_size = vm["min-size"].as<int64_t>(), max_size = vm["max-size"].as<int64_t>();
  check_transform_sizes(min_size, max_size);
  const double score = vm["score-thresh"].as<double>();
  if (!(score >= 0.0 && score < 1.0)) {
    throw UsageError(fmt::format("--score-thresh {}: allowed [0, 1)", score));
  }
  const int64_t dets = vm["detections"].as<int64_t>();
  if (dets < 1) throw UsageError(fmt::format("--detections {}: must be >= 1", dets));
  const ModelChoice choice = model_choice(vm);
  if (vm["out"].as<std::string>() != "-") harness::require_output_file(vm["out"].as<std::string>(), "--out");
  const auto images = list_images(vm["image"].as<std::vector<std::string>>());
  for (const auto& [file, id] : images) probe_image(file);  // fail before loading the weights
  harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());

  PretrainedModel m;
  std::vector<int64_t> category_ids;  // empty: labels are category ids (torchvision's COCO models)
  if (choice.trial.empty()) {
    m = load_pretrained(choice.arch, read_state_dict(choice.weights), choice.weights, min_size,
                        max_size, device);
    m.preset.postprocess.score_thresh = score;
    m.preset.postprocess.detections_per_image = dets;
  } else {
    m = load_trial_model(vm, choice.trial, "predict", device, &category_ids);
    if (!vm["min-size"].defaulted()) m.preset.transform.min_size = min_size;
    if (!vm["max-size"].defaulted()) m.preset.transform.max_size = max_size;
    check_transform_sizes(m.preset.transform.min_size, m.preset.transform.max_size);
    if (!vm["score-thresh"].defaulted()) m.preset.postprocess.score_thresh = score;
    if (!vm["detections"].defaulted()) m.preset.postprocess.detections_per_image = dets;
  }

  std::vector<ImageDetections> results;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& [file, id] = images[i];
    ImageDetections r = detect_file(m, file, id, device);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print(stderr, "[{}/{}] {} ({}x{}): {} detections, {:.2f} s/image\n", i + 1,
               images.size(), file, r.original_size.second, r.original_size.first,
               r.detections.scores.size(0), elapsed / static_cast<double>(i + 1));
    results.push_back(std::move(r));
  }
  const std::string json = coco_results_json(results, category_ids);

  const std::string out = vm["out"].as<std::string>();
  if (out == "-") {
    fmt::print("{}", json);
  } else {
    write_file_atomically(out, json);
    fmt::print(stderr, "wrote {} ({} images)\n", out, results.size());
  }
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

const char* kEvalUsage = R"(Usage: focalab eval --arch NAME --weights W.pth --annotations GT.json --images DIR
                    [--export-coco dets.json] [--json] [options]
       focalab eval --trial KEY [--annotations GT.json --images DIR] [--json] [--db FILE] [options]

Runs a RetinaNet checkpoint on every image of a COCO-format dataset and scores the detections
against its annotations with focalab's COCO evaluator (eval-json's numbers, pycocotools'
semantics). --export-coco keeps the detections as a COCO results file; `focalab eval-json` on it
prints the same numbers. Labels map to category ids by --labels: `category-id` (the model
predicts COCO category ids, as torchvision's COCO models do with 91 classes), `index` (label k is
the k-th category of the annotations in increasing id order), `auto` (category-id when the
model has more classes than the largest category id, else index).

--trial KEY evaluates a done trial's model (its config and final checkpoint, as `focalab predict
--trial`): without --annotations on the trial's own val split, as its training evaluated it (the
numbers the results database holds for it, recomputed); with --annotations and --images on that
COCO dataset, resized as the trial's evaluation was unless --min-size / --max-size are given.

Examples:
  focalab eval --arch retinanet_resnet50_fpn --weights retinanet_resnet50_fpn_coco.pth \
      --annotations instances_val2017.json --images val2017/ --export-coco dets.json
  focalab eval --arch retinanet_resnet50_fpn --weights w.pth --annotations gt.json \
      --images imgs/ --min-size 600 --max-size 1000 --limit 50
  focalab eval --trial 0f6903c44ae08994 --json
  focalab eval --trial 0f6903c44ae08994 --annotations other/instances_val.json --images other/val

Exit codes: 0 ok, 2 usage error (also: unknown trial, a trial not done), 3 unreadable weights,
checkpoint, annotations or image, 4 database error.
)";

int eval_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help");
  add_model_options(opts);
  opts.add_options()(
      "annotations", po::value<std::string>(), "COCO instances JSON")(
      "images", po::value<std::string>(), "folder of the images' file_name")(
      "export-coco", po::value<std::string>()->default_value(""),
      "also write the detections as a COCO results JSON file")(
      "json", "print one JSON object instead of the 12 summary lines")(
      "labels", po::value<std::string>()->default_value("auto"), "auto | category-id | index")(
      "limit", po::value<int64_t>()->default_value(0),
      "evaluate only the first N images by id (0 = all)")(
      "min-size", po::value<int64_t>()->default_value(800), "shorter side after resizing")(
      "max-size", po::value<int64_t>()->default_value(1333), "longer side bound")(
      "device", po::value<std::string>()->default_value("auto"), "auto | cpu | cuda | cuda:N")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (default: all cores)");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm, kEvalUsage)) return kExitOk;
  const std::string labels_mode = vm["labels"].as<std::string>();
  if (labels_mode != "auto" && labels_mode != "category-id" && labels_mode != "index") {
    throw UsageError(fmt::format("--labels '{}': allowed auto, category-id, index", labels_mode));
  }
  const int64_t min_size = vm["min-size"].as<int64_t>(), max_size = vm["max-size"].as<int64_t>();
  check_transform_sizes(min_size, max_size);
  const ModelChoice choice = model_choice(vm);
  if (!choice.trial.empty() && !vm.count("annotations") && !vm.count("images")) {
    // the trial's own val split, evaluated as its training did
    if (!vm["export-coco"].as<std::string>().empty() || vm["limit"].as<int64_t>() != 0 ||
        !vm["min-size"].defaulted() || !vm["max-size"].defaulted() ||
        !vm["labels"].defaulted()) {
      throw UsageError("--export-coco, --labels, --limit, --min-size and --max-size go with "
                       "--annotations and --images (a trial's own val split is evaluated as its "
                       "training did)");
    }
    harness::configure_threads(vm["threads"].as<int64_t>());
    const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
    std::vector<int64_t> ids;
    harness::TrialConfig config;
    PretrainedModel m = load_trial_model(vm, choice.trial, "eval", device, &ids, &config);
    const auto val = harness::open_dataset(config.data, harness::Split::kVal);
    const auto start = std::chrono::steady_clock::now();
    CocoFileEval eval;
    eval.summary = harness::evaluate_model(m.model, config, *val, device);
    const auto names = val->class_names();
    for (size_t k = 0; k < ids.size() && k < names.size(); ++k) eval.categories.push_back({ids[k], names[k]});
    eval.num_images = val->size();
    fmt::print(stderr, "eval: trial {} on its val split, {} images ({:.1f} s)\n", choice.trial,
               val->size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    fmt::print("{}", vm.count("json") ? summary_json(eval) : summary_text(eval.summary));
    return kExitOk;
  }
  if (!vm.count("annotations") || !vm.count("images")) {
    throw UsageError(fmt::format("the option '--{}' is required{}",
                                 vm.count("annotations") ? "images" : "annotations",
                                 choice.trial.empty() ? "" : " with the other (or neither: the "
                                                             "trial's own val split)"));
  }
  const std::string gt_path = vm["annotations"].as<std::string>();
  harness::require_input_file(gt_path, "--annotations");
  if (!vm["export-coco"].as<std::string>().empty()) {
    harness::require_output_file(vm["export-coco"].as<std::string>(), "--export-coco");
  }
  CocoDataset gt = read_coco_dataset(gt_path);
  std::sort(gt.images.begin(), gt.images.end(),
            [](const CocoImage& a, const CocoImage& b) { return a.id < b.id; });
  const int64_t limit = vm["limit"].as<int64_t>();
  if (limit < 0) throw UsageError("--limit must be >= 0");
  if (limit > 0 && static_cast<size_t>(limit) < gt.images.size()) gt.images.resize(limit);
  const std::filesystem::path image_dir = vm["images"].as<std::string>();
  for (size_t i = 0; i < gt.images.size(); ++i) {
    if (gt.images[i].file_name.empty()) {
      throw DataError(fmt::format("{}: images[{}] (id {}) has no file_name", gt_path, i,
                                  gt.images[i].id));
    }
    probe_image((image_dir / gt.images[i].file_name).string());
  }
  harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
  PretrainedModel m;
  StateDict state;
  int64_t num_classes = 0;
  std::string model_name;  // in messages
  if (choice.trial.empty()) {
    model_name = choice.weights;
    state = read_state_dict(choice.weights);  // read once: head shape, then the model
    num_classes = infer_head_shape(state).num_classes;
    if (num_classes < 1) {
      throw DataError(fmt::format("{}: no RetinaNet head in the state_dict", choice.weights));
    }
  } else {
    model_name = "trial " + choice.trial;
    m = load_trial_model(vm, choice.trial, "eval", device, nullptr);
    num_classes = m.preset.model.head.num_classes;
    if (!vm["min-size"].defaulted()) m.preset.transform.min_size = min_size;
    if (!vm["max-size"].defaulted()) m.preset.transform.max_size = max_size;
    check_transform_sizes(m.preset.transform.min_size, m.preset.transform.max_size);
  }
  std::vector<int64_t> category_ids;
  for (const auto& c : gt.categories) category_ids.push_back(c.id);
  std::sort(category_ids.begin(), category_ids.end());
  category_ids.erase(std::unique(category_ids.begin(), category_ids.end()), category_ids.end());
  const int64_t max_id = category_ids.empty() ? 0 : category_ids.back();
  const bool by_index =
      labels_mode == "index" || (labels_mode == "auto" && num_classes <= max_id);
  if (by_index && num_classes != static_cast<int64_t>(category_ids.size())) {
    throw DataError(fmt::format("{}: the model has {} classes, {} has {} categories; --labels "
                                "index needs one class per category (or use --labels "
                                "category-id)", model_name, num_classes, gt_path,
                                category_ids.size()));
  }
  if (choice.trial.empty()) {
    m = load_pretrained(choice.arch, state, choice.weights, min_size, max_size, device);
  }

  std::vector<ImageDetections> results;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < gt.images.size(); ++i) {
    results.push_back(
        detect_file(m, (image_dir / gt.images[i].file_name).string(), gt.images[i].id, device));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double per = elapsed / static_cast<double>(i + 1);
    if ((i + 1) % 10 == 0 || i + 1 == gt.images.size()) {
      fmt::print(stderr, "eval: {}/{} images, {:.2f} s/image, ETA {:.0f} s\n", i + 1,
                 gt.images.size(), per, per * static_cast<double>(gt.images.size() - i - 1));
    }
  }
  // The detections go through the same JSON as --export-coco, so that eval-json on the exported
  // file prints exactly these numbers.
  const std::string json = coco_results_json(results, by_index ? category_ids : std::vector<int64_t>{});
  int64_t total = 0;
  for (const auto& r : results) total += r.detections.scores.size(0);
  const std::string out = vm["export-coco"].as<std::string>();
  CocoFileEval eval;
  if (total == 0) {
    // nothing detected: AP 0 where there is ground truth (COCOeval cannot load an empty list)
    eval = evaluate_coco_data(gt, {}, gt_path, "no detections");
    if (!out.empty()) write_file_atomically(out, json, "--export-coco");
  } else if (!out.empty()) {
    write_file_atomically(out, json, "--export-coco");
    eval = evaluate_coco_data(gt, read_coco_results(out), gt_path, out);
    fmt::print(stderr, "wrote {} ({} detections)\n", out, eval.num_detections);
  } else {
    // the same JSON round trip as --export-coco, in a temporary file
    std::error_code ec;
    std::string tmp_dir = (std::filesystem::temp_directory_path(ec) / "focalab-eval-XXXXXX").string();
    if (ec || !mkdtemp(tmp_dir.data())) {
      throw DataError("eval: cannot create a temporary directory (set TMPDIR to a writable one)");
    }
    struct Cleanup {
      std::string path;
      ~Cleanup() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
      }
    } cleanup{tmp_dir};
    write_file_atomically(tmp_dir + "/detections.json", json);
    eval = evaluate_coco_data(gt, read_coco_results(tmp_dir + "/detections.json"), gt_path,
                              "the detections");
  }
  fmt::print("{}", vm.count("json") ? summary_json(eval) : summary_text(eval.summary));
  return kExitOk;
}

const char* kDataUsage = R"(Usage: focalab data synth --out DIR [SWEEP.yaml [key=value ...]] [--max-images N]
       focalab data check --annotations A.json --images DIR
       focalab data stats SWEEP.yaml [key=value ...] [--images N] [--trial N]

synth  writes focalab's synthetic dataset as a COCO dataset: DIR/train/*.png, DIR/val/*.png and
       DIR/annotations/instances_{train,val}.json, readable by any COCO tool. The data.* settings
       come from the sweep file's first trial (with overrides), else the defaults.
check  validates a COCO instances file against its image folder and prints statistics: images
       (without annotations, missing, unreadable), boxes per category, COCO small / medium /
       large, crowd boxes; and problems: unknown image or category ids, repeated ids, boxes
       without area or outside the image. Exit code 3 when it finds problems.
stats  how imbalanced a config's data is for its detector, before training: images, objects,
       classes, anchors per image, positive / ignored / negative anchors per image (matched
       with the config's anchors and matcher, as in training), binary negatives per positive
       (anchors x classes; the paper's COCO setting: ~80,000) and the share of the
       classification loss that comes from negatives at the prior initialization (CE,
       alpha-balanced CE, focal loss). Synthetic or COCO data; trial N of a sweep (default 0).

Examples:
  focalab data synth --out /tmp/shapes experiments/configs/tiny.yaml --max-images 200
  focalab data check --annotations /tmp/shapes/annotations/instances_val.json --images /tmp/shapes/val
  focalab data stats experiments/configs/paper_regime.yaml
  focalab data stats my_coco.yaml --images 5000
)";

int data_command(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    fmt::print("{}", kDataUsage);
    return args.empty() ? kExitUsage : kExitOk;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "stats") {
    po::options_description opts("Options");
    opts.add_options()("help,h", "show this help")(
        "images", po::value<int64_t>()->default_value(0), "count the first N training images (0 = all)")(
        "trial", po::value<int64_t>()->default_value(0), "the sweep's trial N (as `sweep plan` lists)");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::string>()->required(), "")(
        "overrides", po::value<std::vector<std::string>>(), "");
    po::positional_options_description pos;
    pos.add("file", 1).add("overrides", -1);
    po::variables_map vm;
    if (!parse(rest, opts, hidden, pos, vm, kDataUsage)) return kExitOk;
    const int64_t max_images = vm["images"].as<int64_t>(), n = vm["trial"].as<int64_t>();
    if (max_images < 0) throw UsageError("--images must be >= 0 (0 = all)");
    const auto spec = harness::load_sweep(vm["file"].as<std::string>(), overrides_of(vm));
    // The data must be here; backbone weights, which the statistics do not use, need not be.
    const auto trials = harness::expand_sweep(spec, harness::InputCheck::kList);
    if (n < 0 || n >= static_cast<int64_t>(trials.size())) {
      throw UsageError(fmt::format("--trial {}: the sweep has trials 0..{}", n, trials.size() - 1));
    }
    const auto& config = trials[static_cast<size_t>(n)].config;
    for (const auto& m : trials[static_cast<size_t>(n)].missing_inputs) {
      if (m.find(": data.") != std::string::npos) throw DataError(m);
    }
    harness::Progress progress;
    const auto stats = harness::compute_data_stats(config, max_images, [&](int64_t done, int64_t total) {
      progress.status(fmt::format("data stats: {}/{} images", done, total));
    });
    progress.line(fmt::format("data stats: {} images counted", stats.images));
    fmt::print("{}", stats.report(spec.source_path, config));
    return kExitOk;
  }
  if (args[0] == "synth") {
    po::options_description opts("Options");
    opts.add_options()("help,h", "show this help")(
        "out", po::value<std::string>()->required(), "output directory")(
        "max-images", po::value<int64_t>()->default_value(0), "cap each split (0 = all)");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::string>(), "")(
        "overrides", po::value<std::vector<std::string>>(), "");
    po::positional_options_description pos;
    pos.add("file", 1).add("overrides", -1);
    po::variables_map vm;
    if (!parse(rest, opts, hidden, pos, vm, kDataUsage)) return kExitOk;
    harness::DataConfig data;
    if (vm.count("file")) {
      const auto spec = harness::load_sweep(vm["file"].as<std::string>(), overrides_of(vm));
      data = harness::expand_sweep(spec).front().config.data;
    } else if (vm.count("overrides")) {
      throw UsageError("data synth: key=value overrides need a sweep or config file before them");
    }
    const int64_t max_images = vm["max-images"].as<int64_t>();
    if (max_images < 0) throw UsageError("--max-images must be >= 0");
    harness::require_output_dir(vm["out"].as<std::string>(), "--out");
    const auto start = std::chrono::steady_clock::now();
    const auto result = write_synthetic_coco(data, vm["out"].as<std::string>(), max_images);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("wrote {} images and {} boxes in {:.1f} s ({:.1f} ms/image): {}\n", result.images,
               result.annotations, seconds,
               1e3 * seconds / static_cast<double>(std::max<int64_t>(1, result.images)),
               fmt::join(result.files, ", "));
    return kExitOk;
  }
  if (args[0] == "check") {
    po::options_description opts("Options");
    opts.add_options()("help,h", "show this help")(
        "annotations", po::value<std::string>()->required(), "COCO instances JSON")(
        "images", po::value<std::string>()->required(), "folder of the images' file_name");
    po::variables_map vm;
    if (!parse(rest, opts, {}, {}, vm, kDataUsage)) return kExitOk;
    harness::require_input_file(vm["annotations"].as<std::string>(), "--annotations");
    const auto check = check_coco_dataset(vm["annotations"].as<std::string>(),
                                          vm["images"].as<std::string>());
    fmt::print("{}", check.report);
    if (check.problems) {
      std::fflush(stdout);
      throw DataError(fmt::format("{}: {} problem(s), the first: {}",
                                  vm["annotations"].as<std::string>(), check.problems,
                                  check.first_problem));
    }
    return kExitOk;
  }
  throw UsageError(fmt::format("data: unknown subcommand '{}' (allowed: synth, check)", args[0]));
}

int train_command(const Args& args) { return train_run(args); }

int db_merge_command(const Args& args) { return db_command(args); }

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
             "A sweep's `claims:` (what it expects: better A than B, a peak over a key, a\n"
             "configuration that collapses or diverges) end the report with a verdict each:\n"
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

const char* kExportUsage = R"(Usage: focalab export --trial KEY --out model.pth [--layout auto|torchvision|focalab]
                      [--checkpoint FILE] [--db FILE]

Writes a done trial's trained weights (its final checkpoint) as a plain state_dict in torch.save's
zip format, and the trial's config beside them as YAML (model.pth -> model.yaml: every key;
`focalab train model.yaml` trains the trial again, `focalab sweep plan model.yaml` shows its key).

Layouts:
  torchvision  torchvision's parameter names (>= 0.13). The Python printed on stdout builds the
               same model in torchvision — resnet_fpn_backbone, RetinaNetHead (GroupNorm with
               model.head_norm gn), RetinaNet with the trial's anchors, image size and
               postprocessing — and loads the file with load_state_dict(strict=True). For a
               ResNet-18/34/50/101 backbone with 256 FPN channels and 4-conv heads: the paper's
               RetinaNet (P6 from C5) and torchvision's retinanet_resnet50_fpn (model.p6_from
               p5) and retinanet_resnet50_fpn_v2 (c5, head_norm gn).
  focalab      focalab's names, any architecture: `focalab predict/eval --trial` or the
               training code read them.
  auto         torchvision where the architecture allows, else focalab (the reason on stderr).

Examples:
  focalab query "SELECT key, loss, gamma, alpha, AP FROM results WHERE status = 'done'"
  focalab export --trial 0f6903c44ae08994 --out retinanet.pth > load_retinanet.py
  python3 -c 'exec(open("load_retinanet.py").read()); print(model.head)'

Exit codes: 0 ok, 2 usage error (also: unknown trial, a trial not done, --layout torchvision for
an architecture torchvision lacks), 3 missing or unreadable checkpoint, 4 database error.
)";

int export_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "trial", po::value<std::string>()->required(),
      "trial key (16 hex digits; focalab query trials)")(
      "out", po::value<std::string>()->required(), "the state_dict file to write (model.pth)")(
      "layout", po::value<std::string>()->default_value("auto"), "auto | torchvision | focalab")(
      "checkpoint", po::value<std::string>()->default_value(""),
      "this checkpoint file instead of the trial's own");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm, kExportUsage)) return kExitOk;
  const std::string key = vm["trial"].as<std::string>();
  reports::check_trial_key(key);
  const auto layout = harness::parse_export_layout(vm["layout"].as<std::string>(), "--layout");
  const std::string out = vm["out"].as<std::string>();
  harness::require_output_file(out, "--out");
  const std::string db_path = vm["db"].as<std::string>();
  reports::require_results_db(db_path);
  harness::configure_threads(0);
  harness::TrainedTrial t =
      harness::load_trained_trial(db_path, key, vm["checkpoint"].as<std::string>(), "", "export");
  const std::string header = fmt::format(
      "focalab trial {} ({}), {} iterations; weights: {}\n"
      "focalab train THIS_FILE trains it again; focalab sweep plan THIS_FILE shows its key",
      key, db_path, t.iteration, out);
  const auto r = harness::export_model(t.model, t.config, out, layout, header);
  if (!r.why_not_torchvision.empty()) {
    fmt::print(stderr, "focalab layout: {}\n", r.why_not_torchvision);
  }
  fmt::print(stderr, "wrote {} ({} tensors, {} layout; from {}) and {}\n", out, r.tensors,
             harness::layout_name(r.layout), t.checkpoint, r.config_path);
  if (!r.python.empty()) {
    fmt::print("# focalab trial {}: load {} in torchvision\n{}", key, out, r.python);
  }
  return kExitOk;
}

const char* kAnalyzeUsage = R"(Usage: focalab analyze loss-cdf --trial KEY [--gammas 0,0.5,1,2] [--images N] [options]

Figure 4 of the focal-loss paper from a done trial's final checkpoint: the model is run on the
trial's val images and every (anchor, class) pair is a binary example. Positives: the true class
of the anchors matched as foreground; negatives: every class of the anchors matched as background
(a uniform sample of --max-negatives of them). For each gamma the focal loss of every example is
computed from the model's probability, the examples are sorted by loss and the cumulative loss,
normalized per set, is stored in the results database (table loss_cdf, replacing an earlier
analysis of the trial) and printed as: the smallest share of the hardest examples that carries
half of the set's loss. The plot: --out, or later `focalab plot --kind loss-cdf`.

Examples:
  focalab query trials                                  # the trial keys
  focalab analyze loss-cdf --trial 0f6903c44ae08994 --out fig4.png
  focalab analyze loss-cdf --trial 0f6903c44ae08994 --gammas 0,1,2,5 --images 500
)";

std::vector<double> parse_gammas(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v) || v < 0 || v > 100) {
      throw UsageError(fmt::format("--gammas '{}': '{}' is not allowed (a comma list of numbers "
                                   "in [0, 100], e.g. 0,0.5,1,2)", text, item));
    }
    out.push_back(v);
  }
  if (out.empty()) throw UsageError("--gammas: give at least one value, e.g. 0,0.5,1,2");
  return out;
}

int analyze_command(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    fmt::print("{}", kAnalyzeUsage);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "loss-cdf") {
    throw UsageError(fmt::format("analyze '{}': allowed: loss-cdf (see focalab analyze --help)",
                                 args[0]));
  }
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "trial", po::value<std::string>()->required(), "trial key (16 hex digits; focalab query trials)")(
      "gammas", po::value<std::string>()->default_value("0,0.5,1,2"), "comma list of gamma values")(
      "images", po::value<int64_t>()->default_value(0), "val images to use, in order (0 = all)")(
      "max-negatives", po::value<int64_t>()->default_value(10000000),
      "negatives sampled uniformly beyond this many (the paper: ~1e7)")(
      "checkpoint", po::value<std::string>()->default_value(""),
      "checkpoint file (default: the one the trial recorded)")(
      "data-root", po::value<std::string>()->default_value(""),
      "coco trials: the dataset's data.root here (data.root is not stored with the trial)")(
      "out", po::value<std::string>()->default_value(""), "also plot the curves: FILE.svg|FILE.png")(
      "device", po::value<std::string>()->default_value("auto"), "auto | cpu | cuda | cuda:N")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (default: all cores)");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(Args(args.begin() + 1, args.end()), opts, {}, {}, vm, kAnalyzeUsage)) return kExitOk;
  const std::string key = vm["trial"].as<std::string>();
  reports::check_trial_key(key);
  harness::LossCdfOptions options;
  options.gammas = parse_gammas(vm["gammas"].as<std::string>());
  options.images = vm["images"].as<int64_t>();
  options.max_negatives = vm["max-negatives"].as<int64_t>();
  if (options.images < 0) throw UsageError("--images must be >= 0 (0 = all val images)");
  if (options.max_negatives < 1) throw UsageError("--max-negatives must be >= 1");
  const std::string out = vm["out"].as<std::string>();
  if (!out.empty()) reports::check_figure_path(out);
  const std::string db_path = vm["db"].as<std::string>();
  reports::require_results_db(db_path);
  harness::Store store(db_path);
  const harness::StoredTrial trial =
      harness::find_done_trial(store, db_path, key, "analyze loss-cdf");
  std::string checkpoint = vm["checkpoint"].as<std::string>();
  std::error_code ec;
  if (checkpoint.empty()) {
    checkpoint = harness::trial_checkpoint_file(db_path, key, trial.checkpoint_path);
  } else if (!std::filesystem::is_regular_file(checkpoint, ec)) {
    throw DataError(fmt::format("{}: checkpoint of trial {} not found (moved? pass --checkpoint "
                                "FILE)", checkpoint, key));
  }
  harness::TrialConfig config = harness::config_from_json(trial.config_json);
  config.data.root = vm["data-root"].as<std::string>();
  harness::finalize_config(config, fmt::format("{}: trial {}", db_path, key));
  harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
  const auto start = std::chrono::steady_clock::now();
  const auto result = harness::analyze_loss_cdf(config, checkpoint, options, device);
  store.write_loss_cdf(trial.id, result);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (result.iteration != config.train.iterations) {
    fmt::print(stderr, "warning: {} holds iteration {}, not the trial's last ({})\n", checkpoint,
               result.iteration, config.train.iterations);
  }
  const auto& first = result.curves.front();
  fmt::print("trial {} after {} iterations, {} val images: {} positive and {} negative examples "
             "({:.1f} s)\n",
             key, result.iteration, result.images, first.count, result.curves[1].count, seconds);
  fmt::print("{:>7}  {:<9}  {:>26}  {:>23}\n", "gamma", "examples", "hardest share w/ half loss",
             "loss of easiest 80%");
  for (const auto& c : result.curves) {
    // the easiest 80%: the grid point at fraction 0.8
    const auto& f = harness::loss_cdf_fractions();
    const size_t at = static_cast<size_t>(std::find(f.begin(), f.end(), 0.8) - f.begin());
    fmt::print("{:>7g}  {:<9}  {:>25.4f}%  {:>22.2f}%\n", c.gamma, c.examples,
               100 * c.hardest_half, 100 * c.cumulative[at]);
  }
  fmt::print(stderr, "stored in {} (table loss_cdf)\n", db_path);
  if (!out.empty()) {
    reports::PlotOptions po;
    po.db_path = db_path;
    po.kind = "loss-cdf";
    po.out = out;
    po.trial = key;
    fmt::print(stderr, "{}\n", reports::make_plot(po));
  }
  return kExitOk;
}

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

std::string version_text() {
  return fmt::format("focalab {} (git {})\nLibTorch {}.{}.{}\nCUDA: {}\n", FOCALAB_VERSION,
                     FOCALAB_GIT_REVISION, TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
                     TORCH_VERSION_PATCH,
                     torch::cuda::is_available()
                         ? fmt::format("usable ({} device(s))", torch::cuda::device_count())
                         : std::string("not usable (CPU only)"));
}

std::string main_help() {
  return R"(focalab — loss ablations for dense object detection (RetinaNet, focal loss)

Usage: focalab <command> [options]      (focalab <command> --help for each)

Commands:
  sweep run FILE [key=value ...]   train + evaluate every unfinished trial of a sweep
  sweep plan FILE [key=value ...]  validate a sweep and list its trials
  sweep status                     trials per status in the results database
  train FILE [key=value ...]       train + evaluate one configuration, print its COCO AP
  sweep slurm FILE --out job.sbatch    an sbatch array script, one task per unfinished trial
  db merge SHARD.db ... --into DB  fold results databases (shards) into one
  report [--sweep NAME] [--format F]   comparison table of a sweep (md, csv, latex, json, html)
  plot --kind K --out F.svg|F.png  AP vs gamma/alpha with the paper's, loss share, loss curves,
                                   the loss CDF (Figure 4)
  serve [--port 8050]              the results in a browser, live while sweeps run (read-only)
  analyze loss-cdf --trial KEY     Figure 4: how the loss spreads over examples, per gamma
  query SQL|TABLE                  read-only SQL on the results database
  config keys                      every sweep key, its default and allowed values
  predict --arch A --weights W.pth --image I   detections of a checkpoint as COCO JSON
          --trial KEY --image I                the same for a trained trial
  eval --arch A --weights W.pth --annotations GT.json --images DIR   COCO AP of a checkpoint
       --trial KEY [--annotations GT.json --images DIR]   ... of a trained trial
  export --trial KEY --out model.pth           a trial's weights for torchvision (+ its config)
  data synth --out DIR | data check --annotations A.json --images DIR   COCO datasets
  eval-json --gt GT.json --dt DT.json          COCO AP of a results file (pycocotools' numbers)
  bench loss|infer|json|data|store  fused focal loss, inference vs torchvision; JSON, data, DB
  --version                        focalab, LibTorch and CUDA versions

Examples:
  focalab sweep run experiments/quick.yaml && focalab report
  focalab query "SELECT loss, gamma, alpha, AP, AP50 FROM results" --format csv

Common options: --db FILE (default $FOCALAB_DB or ./focalab.db), --device auto|cpu|cuda[:N],
--threads N (default: all cores). Set NO_COLOR to disable colors.
Exit codes: 0 ok, 1 trials failed/diverged, 2 usage or config error, 3 data error,
4 database error, 5 interrupted, 70 internal error.
)";
}

}  // namespace focalab::cli
