#pragma once
// Runs a sweep's trials against the results store: registers the sweep, skips trials that are
// done, runs pending and interrupted ones (and failed/diverged ones when asked), turns a trial's
// exception into a `failed` row and goes on (or stops with fail_fast). SIGINT/SIGTERM/SIGUSR1
// stop the running trial, which is marked `interrupted` and runs again next time. Several
// processes may run the same sweep on one database: each trial is claimed by exactly one of them
// (Store::claim_trial), and a trial left `running` by a dead process is taken over and resumed
// from its checkpoint.

#include <set>
#include <string>
#include <vector>

#include "harness/config/config.h"
#include "harness/store/store.h"

namespace focalab::harness {
inline namespace run {

struct RunOptions {
  std::string db_path = "focalab.db";
  std::string device = "auto";          // see resolve_device
  int64_t threads = 0;                  // 0 = all cores
  bool fail_fast = false;               // stop the sweep at the first failed trial
  std::set<TrialStatus> rerun;          // also run trials in these states (failed, diverged)
  std::string checkpoint_dir;           // "" = DB_PATH-checkpoints next to the database
  double heartbeat_seconds = 10;        // a running trial's heartbeat period
  // A `running` trial of another host whose heartbeat is older than this is taken over (on this
  // host, a trial whose process is gone is taken over at once).
  double stale_seconds = 120;
  std::set<std::string> only_keys;      // run only these trials (sweep run --trial); {} = all
};

// Where the checkpoint of trial `key` lives: CHECKPOINT_DIR/KEY.pth.
std::string checkpoint_path(const RunOptions& options, const std::string& key);

struct SweepRunSummary {
  int64_t total = 0;
  int64_t already_done = 0;  // skipped: done before this run
  int64_t done = 0;          // finished in this run
  int64_t failed = 0;
  int64_t diverged = 0;
  int64_t not_run = 0;       // left pending (fail-fast) or skipped failed/diverged
  int64_t elsewhere = 0;     // claimed by another process running the same sweep
  bool interrupted = false;
};

// Progress and results go to stderr; the caller prints the report.
SweepRunSummary run_sweep(const SweepSpec& spec, const RunOptions& options);

// Installs the SIGINT/SIGTERM/SIGUSR1 handlers used by run_sweep (idempotent).
void install_stop_handlers();
bool stop_requested();

}  // namespace run
}  // namespace focalab::harness
