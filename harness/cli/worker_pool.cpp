// `sweep run --jobs N` / `--devices`: the worker processes and the signals they share.

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

}  // namespace

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

}  // namespace focalab::harness::cli
