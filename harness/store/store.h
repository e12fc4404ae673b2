#pragma once
// The results database: the only place that writes SQL. One SQLite file in WAL mode; the schema is
// created and migrated when the store opens (before any trial runs); every write is one
// BEGIN IMMEDIATE transaction, so a killed process never leaves half an interval behind.
// Non-finite values are stored as NULL with a flag, never dropped.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "harness/config/config.h"
#include "harness/config/sweep.h"
#include "harness/eval/coco_eval.h"
#include "harness/eval/loss_cdf.h"
#include "harness/store/sqlite.h"
#include "losses/loss_sums.h"

namespace focalab::harness {
inline namespace store {

// 2: loss_histogram; 3: train_steps.data_ms; 4: trials.pid; 5: loss_cdf (store.cpp: kMigrations,
// one step per version; docs/SCHEMA.md)
inline constexpr int kSchemaVersion = 6;

enum class TrialStatus { kPending, kRunning, kDone, kFailed, kDiverged, kInterrupted };
const char* status_name(TrialStatus status);
TrialStatus parse_status(const std::string& name);  // throws StoreError on an unknown name

// The schema version of a results database (0: empty). Throws StoreError when it is another
// program's database or of a newer schema than this focalab's.
int64_t results_schema_version(Database& db);

struct StoredTrial {
  int64_t id = 0;
  std::string key;
  TrialStatus status = TrialStatus::kPending;
  std::string config_json;
  std::string checkpoint_path;  // "" when none was recorded
};

// How errors name a trial's stored config: "DB: trial KEY: config_json".
std::string stored_config_name(const std::string& db_path, const std::string& key);

struct TrialRow {
  int64_t id = 0;
  std::string key;
  TrialStatus status = TrialStatus::kPending;
  int64_t attempts = 0;
};

// One logging interval of training, averaged over its iterations.
struct StepLog {
  int64_t iteration = 0;  // last iteration of the interval (1-based)
  double lr = 0;
  double loss_cls = 0, loss_box = 0, loss_total = 0;
  double num_pos = 0;      // mean positive anchors per iteration
  double normalizer = 0;   // mean normalizer
  double ms_per_iter = 0;
  double data_ms = 0;      // mean time per iteration spent waiting for the data loader
};

class Store {
 public:
  // Opens or creates the database and brings its schema to kSchemaVersion, one migration step
  // (and transaction) per version. Throws StoreError for a path that is not a database file
  // (check_database_path), a file that is not a focalab database or has a newer schema — all
  // decided before anything is written — and for one on a network file system
  // (network_filesystem; FOCALAB_ALLOW_NETWORK_DB=1 allows it).
  explicit Store(const std::string& path);

  // Registers the sweep (updating its spec) and its trials; new trials become pending. Returns the
  // trials in sweep order with their current rows.
  std::vector<TrialRow> register_sweep(const SweepSpec& spec, const std::vector<TrialSpec>& trials);

  // Marks the trial `running` for this process (host, pid, device, heartbeat) if its status is in
  // `claimable`, or if it is `running` for a process that is gone (on this host: its pid does
  // not exist; on any host: no heartbeat for `stale_seconds`). One transaction, so of several
  // processes exactly one claims a trial. Returns whether this process got it.
  bool claim_trial(int64_t trial_id, const std::string& device,
                   const std::set<TrialStatus>& claimable, double stale_seconds);
  // Trials left `running` by process `pid` of this host, which has exited without finishing
  // them (a `sweep run --jobs` worker that died): marks them `interrupted` with `reason` as their
  // error, so that the next run resumes them from their checkpoints. Returns their keys.
  std::vector<std::string> release_trials_of(int64_t pid, const std::string& reason);
  // How many of the trials with these keys have each status (keys not in the database: none).
  std::map<TrialStatus, int64_t> status_counts(const std::vector<std::string>& keys);
  // The trial with this key, if any.
  std::optional<StoredTrial> find_trial(const std::string& key);
  void heartbeat(int64_t trial_id);
  void mark_finished(int64_t trial_id, TrialStatus status, const std::string& error = {},
                     std::optional<int64_t> diverged_at = std::nullopt,
                     const std::string& checkpoint = {});
  // Deletes the logs and evaluations of a trial that is about to run again: all of them, or
  // those after iteration `after` (a trial resuming from a checkpoint of that iteration).
  void clear_trial_results(int64_t trial_id, int64_t after = 0);
  // Records the trial's latest checkpoint file.
  void set_checkpoint(int64_t trial_id, const std::string& path);

  // One interval: the step log, the loss breakdown sums (per category, all classes and per
  // class) and the loss histogram (bins with a count), in one transaction.
  void write_interval(int64_t trial_id, const StepLog& step, const losses::LossBreakdownSums& sums,
                      const losses::LossHistogramSums& histogram = {});
  void write_evaluation(int64_t trial_id, int64_t iteration, const std::string& split,
                        const CocoSummary& summary, const std::vector<std::string>& class_names);
  // The Figure 4 curves of a trial (`analyze loss-cdf`), replacing any earlier ones.
  void write_loss_cdf(int64_t trial_id, const LossCdfResult& result);

  struct MergeCounts {
    int64_t sweeps_added = 0;
    int64_t trials_added = 0;     // new keys
    int64_t trials_replaced = 0;  // the shard's trial had progressed further
    int64_t trials_kept = 0;      // this database's trial was as far or further
  };
  // Folds the results database `shard` into this one, in one transaction: sweeps by name (added
  // when missing), trials by key — a trial missing here is copied with all its rows; one present
  // here is replaced with the shard's (row and results) only when the shard's status is further
  // along (done > diverged > failed > interrupted > running > pending) — and the sweeps' trial
  // lists. Merging the same shard twice changes nothing. The shard is only read (it may lie on a
  // shared file system): a copy of it next to this database is brought to this schema and
  // merged. Throws StoreError naming the file.
  MergeCounts merge_from(const std::string& shard);

  Database& db() { return db_; }

 private:
  void migrate();
  Database db_;
};

}  // namespace store
}  // namespace focalab::harness
