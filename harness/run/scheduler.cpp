#include "harness/run/scheduler.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <algorithm>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>
#include <filesystem>
#include <map>

#include "harness/config/sweep.h"
#include "harness/data/dataset.h"
#include "harness/interop/weights.h"
#include "harness/run/device.h"
#include "harness/run/progress.h"
#include "harness/train/amp.h"
#include "harness/train/trainer.h"
#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace run {

namespace {

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }

// Writes what the trainer reports into the store and shows progress.
class StoreObserver : public TrialObserver {
 public:
  StoreObserver(Store& store, int64_t trial_id, Progress& progress, std::string prefix)
      : store_(store), trial_id_(trial_id), progress_(progress), prefix_(std::move(prefix)),
        start_(std::chrono::steady_clock::now()) {}

  void on_interval(const StepLog& step, const losses::LossBreakdownSums& sums,
                   const losses::LossHistogramSums& histogram) override {
    store_.write_interval(trial_id_, step, sums, histogram);
    if (!progress_.interactive()) {
      progress_.line(fmt::format("{} iter {}/{}  loss {:.4f} (cls {:.4f} box {:.4f})  lr {:.4g}  "
                                 "{:.0f} ms/iter (data wait {:.0f}%)  ETA {}",
                                 prefix_, step.iteration, total_, step.loss_total, step.loss_cls,
                                 step.loss_box, step.lr, step.ms_per_iter,
                                 step.ms_per_iter > 0 ? 100 * step.data_ms / step.ms_per_iter : 0.0,
                                 eta()));
    }
  }
  void on_iteration(int64_t iteration, int64_t total, double loss, double lr) override {
    iteration_ = iteration;
    total_ = total;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    progress_.status(fmt::format("{} iter {}/{}  {:.1f} it/s  loss {:.4f}  lr {:.4g}  ETA {}",
                                 prefix_, iteration, total,
                                 elapsed > 0 ? static_cast<double>(iteration - first_) / elapsed
                                             : 0.0,
                                 loss, lr, eta()));
  }
  bool stop_requested() override { return g_stop_signal.load() != 0; }
  void on_start(int64_t resumed_after) override {
    first_ = resumed_after;
    start_ = std::chrono::steady_clock::now();
    store_.clear_trial_results(trial_id_, resumed_after);
    if (resumed_after > 0) {
      progress_.line(fmt::format("{} resuming after iteration {} from its checkpoint", prefix_,
                                 resumed_after));
    }
  }
  void on_evaluation(int64_t iteration, const CocoSummary& summary,
                     const std::vector<std::string>& class_names) override {
    store_.write_evaluation(trial_id_, iteration, "val", summary, class_names);
    progress_.line(fmt::format("{} iter {}: val AP {:.1f}  AP50 {:.1f}  AP75 {:.1f}", prefix_,
                               iteration, 100 * summary.ap(), 100 * summary.ap50(),
                               100 * summary.ap75()));
  }
  void on_checkpoint(const std::string& path, int64_t) override {
    store_.set_checkpoint(trial_id_, path);
  }

 private:
  std::string eta() const {
    if (iteration_ <= first_) return "?";
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return format_duration(elapsed / static_cast<double>(iteration_ - first_) *
                           static_cast<double>(total_ - iteration_));
  }

  Store& store_;
  int64_t trial_id_;
  Progress& progress_;
  std::string prefix_;
  std::chrono::steady_clock::time_point start_;
  int64_t iteration_ = 0, total_ = 0;
  int64_t first_ = 0;  // the iteration the trial resumed after
};

// Keeps the running trial's heartbeat fresh from a thread of its own (own connection), so that
// other processes can tell a live trial from one whose process died, even during a long
// evaluation.
class Heartbeat {
 public:
  Heartbeat(const std::string& db_path, int64_t trial_id, double period_seconds)
      : thread_([this, db_path, trial_id, period_seconds] {
          try {
            Store store(db_path);
            std::unique_lock<std::mutex> lock(mutex_);
            while (!cv_.wait_for(lock, std::chrono::duration<double>(period_seconds),
                                 [this] { return stop_; })) {
              store.heartbeat(trial_id);
            }
          } catch (const std::exception& e) {
            fmt::print(stderr, "warning: heartbeat stopped: {}\n", e.what());
          }
        }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

std::string checkpoint_path(const RunOptions& options, const std::string& key) {
  namespace fs = std::filesystem;
  fs::path dir = options.checkpoint_dir;
  if (dir.empty()) {
    const fs::path db(options.db_path);
    dir = db.parent_path() / (db.filename().string() + "-checkpoints");
  }
  return (dir / (key + ".pth")).string();
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
}

bool stop_requested() { return g_stop_signal.load() != 0; }

namespace {

// Where a sweep stands before its next trial, from the store: with `--jobs` (or several
// `sweep run`s on one database) other processes run its trials too, which this process's own
// counts would miss. `all`: the statuses of the run's trials, of which the running ones are other
// processes' (this one is between trials); `ahead`: of those this process has yet to look at, of
// which the `claimable` ones are to go. The ETA shares the trials to go among this process and
// those running the others, at the time a trial took here; none before this process has trained
// one.
std::string progress_line(const std::string& sweep, const std::map<TrialStatus, int64_t>& all,
                          const std::map<TrialStatus, int64_t>& ahead,
                          const std::set<TrialStatus>& claimable, int64_t trained_here,
                          double trained_seconds) {
  auto count = [](const std::map<TrialStatus, int64_t>& c, TrialStatus s) {
    const auto it = c.find(s);
    return it == c.end() ? int64_t{0} : it->second;
  };
  int64_t to_go = 0;
  for (const auto s : claimable) to_go += count(ahead, s);
  const int64_t elsewhere =
      claimable.count(TrialStatus::kRunning) ? 0 : count(all, TrialStatus::kRunning);
  std::string line = fmt::format(
      "sweep {}: {} done, {} failed, {} diverged, {} running elsewhere, {} to go", sweep,
      count(all, TrialStatus::kDone), count(all, TrialStatus::kFailed),
      count(all, TrialStatus::kDiverged), elsewhere, to_go);
  if (to_go > 0 && trained_here > 0) {
    const int64_t rounds = (to_go + elsewhere) / (elsewhere + 1);  // ceil(to_go / processes)
    line += fmt::format("; ETA {}", format_duration(trained_seconds /
                                                    static_cast<double>(trained_here) *
                                                    static_cast<double>(rounds)));
  }
  return line;
}

}  // namespace

SweepRunSummary run_sweep(const SweepSpec& spec, const RunOptions& options) {
  // Everything is validated before the store is touched or anything runs.
  const auto trials = expand_sweep(spec);
  const torch::Device device = resolve_device(options.device);
  for (const auto& t : trials) {
    if (const auto why = amp_unsupported(t.config.train.amp, device); !why.empty()) {
      throw ConfigError(fmt::format("{}: train.amp: {}", spec.source_path, why));
    }
  }
  const int64_t threads = configure_threads(options.threads);
  // The datasets are read (COCO: JSON and every image header) before anything is written.
  for (const auto& t : trials) {
    open_dataset(t.config.data, Split::kTrain);
    open_dataset(t.config.data, Split::kVal);
  }
  // So is every backbone weights file, loaded into the trial's backbone: a file that cannot be
  // read or does not fit fails here, once, instead of in every trial after it was claimed.
  {
    std::set<std::pair<std::string, BackboneKind>> checked;  // (file, backbone preset)
    for (const auto& t : trials) {
      const auto& m = t.config.model;
      if (m.backbone_weights.empty() || !checked.insert({m.backbone_weights, m.backbone}).second) {
        continue;
      }
      models::RetinaNet model(retinanet_options(t.config));
      load_backbone_weights(model->backbone(), resolve_weights_path(m.backbone_weights));
    }
  }

  Store store(options.db_path);
  const auto rows = store.register_sweep(spec, trials);
  std::vector<TrialConfig> configs;
  for (const auto& t : trials) configs.push_back(t.config);
  const auto varied = varied_keys(configs);

  Progress progress;
  SweepRunSummary summary;
  summary.total = static_cast<int64_t>(trials.size());
  for (const auto& key : options.only_keys) {
    if (std::none_of(trials.begin(), trials.end(), [&](const TrialSpec& t) { return t.key == key; })) {
      throw UsageError(fmt::format("--trial {}: no such trial in sweep {} (see `focalab sweep "
                                   "plan`)", key, spec.name));
    }
  }
  std::vector<size_t> to_run;
  if (!options.only_keys.empty()) summary.total = static_cast<int64_t>(options.only_keys.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!options.only_keys.empty() && !options.only_keys.count(trials[i].key)) continue;
    const auto st = rows[i].status;
    if (st == TrialStatus::kDone && !options.rerun.count(st)) {
      ++summary.already_done;
    } else if ((st == TrialStatus::kFailed || st == TrialStatus::kDiverged) &&
               !options.rerun.count(st)) {
      ++summary.not_run;
    } else {
      to_run.push_back(i);
    }
  }
  progress.line(fmt::format(
      "sweep {}: {} trials ({} done already, {} to run{}) on {} with {} threads -> {}",
      progress.emphasis(spec.name), summary.total, summary.already_done, to_run.size(),
      summary.not_run ? fmt::format(", {} failed/diverged skipped: --rerun failed,diverged",
                                    summary.not_run)
                      : "",
      device.str(), threads, options.db_path));
  if (to_run.empty()) {
    progress.line(summary.not_run ? "nothing to run: every other trial is already done"
                                  : "every trial is already done; nothing to run");
    return summary;
  }

  install_stop_handlers();
  std::set<TrialStatus> claimable = {TrialStatus::kPending, TrialStatus::kInterrupted};
  claimable.insert(options.rerun.begin(), options.rerun.end());
  std::vector<std::string> run_keys;  // the trials of this run, done or not
  for (const auto& t : trials) {
    if (options.only_keys.empty() || options.only_keys.count(t.key)) run_keys.push_back(t.key);
  }
  int64_t trained_here = 0;      // trials this process trained to an outcome
  double trained_seconds = 0;    // and the time they took
  for (size_t n = 0; n < to_run.size(); ++n) {
    const size_t i = to_run[n];
    const auto& trial = trials[i];
    const int64_t id = rows[i].id;
    std::string prefix = fmt::format("[{}/{}] {} seed={}", n + 1, to_run.size(),
                                     trial_label(trial.config, varied), trial.config.seed);
    if (n > 0) {
      std::vector<std::string> ahead;
      for (size_t m = n; m < to_run.size(); ++m) ahead.push_back(trials[to_run[m]].key);
      progress.line(progress_line(spec.name, store.status_counts(run_keys),
                                  store.status_counts(ahead), claimable, trained_here,
                                  trained_seconds));
    }
    if (rows[i].status == TrialStatus::kDone || rows[i].status == TrialStatus::kFailed ||
        rows[i].status == TrialStatus::kDiverged) {
      // --rerun starts over; only pending, running (stale) and interrupted trials resume
      std::error_code ec;
      std::filesystem::remove(checkpoint_path(options, trial.key), ec);
    }
    if (!store.claim_trial(id, device.str(), claimable, options.stale_seconds)) {
      progress.line(fmt::format("{} taken by another process", prefix));
      ++summary.elsewhere;
      continue;
    }
    progress.line(fmt::format("{} key {} ...", prefix, trial.key));
    Heartbeat heartbeat(options.db_path, id, options.heartbeat_seconds);
    StoreObserver observer(store, id, progress, prefix);
    const auto trial_start = std::chrono::steady_clock::now();
    try {
      const auto outcome =
          train_trial(trial.config, device, observer, checkpoint_path(options, trial.key));
      ++trained_here;
      trained_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - trial_start).count();
      if (outcome.status == TrialStatus::kDiverged) {
        store.mark_finished(id, TrialStatus::kDiverged,
                            fmt::format("non-finite loss at iteration {}", *outcome.diverged_at),
                            outcome.diverged_at);
        ++summary.diverged;
        progress.line(fmt::format("{} DIVERGED at iteration {} (non-finite loss)", prefix,
                                  *outcome.diverged_at));
      } else {
        store.write_evaluation(id, trial.config.train.iterations, "val", *outcome.val,
                               outcome.class_names);
        store.mark_finished(id, TrialStatus::kDone, {}, std::nullopt,
                            checkpoint_path(options, trial.key));
        ++summary.done;
        progress.line(fmt::format("{} done in {} (eval {}): AP {:.1f}  AP50 {:.1f}  AP75 {:.1f}",
                                  prefix, format_duration(outcome.train_seconds + outcome.eval_seconds),
                                  format_duration(outcome.eval_seconds), 100 * outcome.val->ap(),
                                  100 * outcome.val->ap50(), 100 * outcome.val->ap75()));
      }
    } catch (const InterruptedError&) {
      store.mark_finished(id, TrialStatus::kInterrupted, "interrupted by signal", std::nullopt,
                          checkpoint_path(options, trial.key));
      progress.line(fmt::format("{} interrupted (signal {}); run the sweep again to resume",
                                prefix, g_stop_signal.load()));
      summary.interrupted = true;
      summary.not_run += static_cast<int64_t>(to_run.size() - n - 1);
      return summary;
    } catch (const StoreError&) {
      throw;  // the store itself is failing: nothing can be recorded
    } catch (const DataError& e) {
      // Bad data is not the trial's fault: it runs again once the data is fixed.
      store.mark_finished(id, TrialStatus::kInterrupted, e.what());
      progress.line(fmt::format("{} stopped by bad data; the trial runs again next time", prefix));
      throw;
    } catch (const std::exception& e) {
      std::string what = e.what();
      if (const auto nl = what.find('\n'); nl != std::string::npos) what = what.substr(0, nl);
      store.mark_finished(id, TrialStatus::kFailed, what);
      ++summary.failed;
      progress.line(fmt::format("{} FAILED: {}", prefix, what));
      if (options.fail_fast) {
        summary.not_run += static_cast<int64_t>(to_run.size() - n - 1);
        progress.line("--fail-fast: stopping the sweep");
        return summary;
      }
    }
  }
  return summary;
}

}  // namespace run
}  // namespace focalab::harness
