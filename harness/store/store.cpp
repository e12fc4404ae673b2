#include "harness/store/store.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <tuple>

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <cmath>
#include <ctime>

#include "focalab/version.h"
#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace store {

namespace {

std::string now_iso() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The tables of a trial's results, each with (trial_id, iteration, ...).
const char* const kResultTables[] = {"train_steps", "loss_breakdown", "loss_intervals",
                                     "loss_histogram", "evaluations", "class_ap", "loss_cdf",
                                     "bootstrap"};

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// The schema as ordered steps: kMigrations[N - 1] takes a database from version N - 1 to N.
// Each runs in a transaction of its own that also records version N, so a database is always at
// exactly one version, and a process killed midway leaves one that the next open continues.
// Steps never change: a new schema version is a new step (and a fixture
// tests/data/schema/vN.db from tests/data/schema/make.sh).

// 1: the tables of the first release.
const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE sweeps (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  source_path TEXT,
  spec_yaml TEXT,
  spec_hash TEXT,
  reference TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  focalab_version TEXT,
  git_revision TEXT
);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  seed INTEGER NOT NULL,
  config_json TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending','running','done','failed','diverged','interrupted')),
  attempts INTEGER NOT NULL DEFAULT 0,
  host TEXT,
  device TEXT,
  started_at TEXT,
  finished_at TEXT,
  heartbeat_at TEXT,
  error TEXT,
  diverged_at_iter INTEGER,
  checkpoint_path TEXT
);
CREATE TABLE sweep_trials (
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, trial_id)
);
CREATE TABLE train_steps (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  lr REAL,
  loss_cls REAL,
  loss_box REAL,
  loss_total REAL,
  num_pos REAL,
  normalizer REAL,
  ms_per_iter REAL,
  nonfinite INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE loss_breakdown (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('positive','hard_negative','easy_negative')),
  class_id INTEGER NOT NULL,
  count REAL NOT NULL,
  loss_sum REAL,
  nonfinite INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, iteration, category, class_id)
);
CREATE TABLE loss_intervals (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  iterations INTEGER NOT NULL,
  ignored_anchors INTEGER NOT NULL,
  normalizer_sum REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE evaluations (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, iteration, split, metric)
);
CREATE TABLE class_ap (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  class_id INTEGER NOT NULL,
  class_name TEXT,
  ap REAL,
  ap50 REAL,
  PRIMARY KEY (trial_id, iteration, split, class_id)
);
)sql";

// 2: the loss histogram.
const char* kSchemaV2 = R"sql(
CREATE TABLE loss_histogram (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  grp TEXT NOT NULL CHECK (grp IN ('positive','background','near_object')),
  bin INTEGER NOT NULL,
  q_lo REAL NOT NULL,
  q_hi REAL NOT NULL,
  count REAL NOT NULL,
  loss_sum REAL,
  iterations INTEGER NOT NULL,
  PRIMARY KEY (trial_id, iteration, grp, bin)
);
)sql";

// 3: the data loader's wait per iteration.
const char* kSchemaV3 = "ALTER TABLE train_steps ADD COLUMN data_ms REAL;";

// 4: the pid of the process running a trial (cooperating processes).
const char* kSchemaV4 = "ALTER TABLE trials ADD COLUMN pid INTEGER;";

// 5: Figure 4's curves (`analyze loss-cdf`).
const char* kSchemaV5 = R"sql(
CREATE TABLE loss_cdf (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  gamma REAL NOT NULL,
  examples TEXT NOT NULL CHECK (examples IN ('positive','negative')),
  point INTEGER NOT NULL,
  fraction REAL NOT NULL,
  cumulative REAL NOT NULL,
  count INTEGER NOT NULL,
  images INTEGER NOT NULL,
  PRIMARY KEY (trial_id, iteration, gamma, examples, point)
);
)sql";

// 6: a sweep's claims (its `claims:` list as YAML; `report` gives each a verdict), and the
// bootstrap replicates of each evaluation (AP over the val images resampled with replacement).
const char* kSchemaV6 = R"sql(
ALTER TABLE sweeps ADD COLUMN claims TEXT;
CREATE TABLE bootstrap (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  replicate INTEGER NOT NULL,
  ap REAL,
  ap50 REAL,
  ap75 REAL,
  PRIMARY KEY (trial_id, iteration, split, replicate)
);
)sql";

const char* const kMigrations[] = {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4, kSchemaV5,
                                   kSchemaV6};
static_assert(sizeof kMigrations / sizeof kMigrations[0] == kSchemaVersion,
              "one migration step per schema version");

// The views hold no data: the current definitions are installed (dropped and created again) by
// the transaction of the last step of every migration, so an old database gets today's views
// and not the ones it was made with. A step that changes a table a view reads in a way the old
// view would not survive (dropping or renaming a column it names) drops that view first.
// `results` is unchanged since version 1.
const char* kViews = R"sql(
DROP VIEW IF EXISTS results;
CREATE VIEW results AS
SELECT s.name AS sweep, t.id AS trial_id, t.key, t.seed, t.status,
       json_extract(t.config_json, '$."loss.kind"') AS loss,
       json_extract(t.config_json, '$."loss.gamma"') AS gamma,
       json_extract(t.config_json, '$."loss.alpha"') AS alpha,
       json_extract(t.config_json, '$."model.prior_prob"') AS prior_prob,
       json_extract(t.config_json, '$."model.backbone"') AS backbone,
       json_extract(t.config_json, '$."train.iterations"') AS iterations,
       (SELECT value FROM evaluations e WHERE e.trial_id = t.id AND e.metric = 'AP'
          AND e.split = 'val' ORDER BY e.iteration DESC LIMIT 1) AS AP,
       (SELECT value FROM evaluations e WHERE e.trial_id = t.id AND e.metric = 'AP50'
          AND e.split = 'val' ORDER BY e.iteration DESC LIMIT 1) AS AP50,
       (SELECT value FROM evaluations e WHERE e.trial_id = t.id AND e.metric = 'AP75'
          AND e.split = 'val' ORDER BY e.iteration DESC LIMIT 1) AS AP75
FROM trials t JOIN sweep_trials st ON st.trial_id = t.id JOIN sweeps s ON s.id = st.sweep_id
ORDER BY s.id, st.position;
)sql";

}  // namespace

std::string stored_config_name(const std::string& db_path, const std::string& key) {
  return fmt::format("{}: trial {}: config_json", db_path, key);
}

const char* status_name(TrialStatus status) {
  switch (status) {
    case TrialStatus::kPending: return "pending";
    case TrialStatus::kRunning: return "running";
    case TrialStatus::kDone: return "done";
    case TrialStatus::kFailed: return "failed";
    case TrialStatus::kDiverged: return "diverged";
    case TrialStatus::kInterrupted: return "interrupted";
  }
  return "pending";
}

TrialStatus parse_status(const std::string& name) {
  for (auto s : {TrialStatus::kPending, TrialStatus::kRunning, TrialStatus::kDone,
                 TrialStatus::kFailed, TrialStatus::kDiverged, TrialStatus::kInterrupted}) {
    if (name == status_name(s)) return s;
  }
  throw StoreError(fmt::format("unknown trial status '{}'", name));
}

// Whether the file is focalab's and not of a newer schema is decided before anything is
// written to it (Database's inspector).
Store::Store(const std::string& path)
    : db_(path, Database::Mode::kReadWriteCreate, [](Database& db) { results_schema_version(db); }) {
  migrate();
}

int64_t results_schema_version(Database& db) {
  // A database created by another program must not be modified.
  bool has_tables = false, has_version = false;
  {
    auto st = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'");
    while (st.step()) {
      has_tables = true;
      if (st.get_text(0) == "schema_version") has_version = true;
    }
  }
  if (has_tables && !has_version) {
    throw StoreError(fmt::format("{}: not a focalab results database (it has tables but no "
                                 "schema_version table); pass another --db",
                                 db.path()));
  }
  if (!has_version) return 0;
  auto st = db.prepare("SELECT max(version) FROM schema_version");
  const int64_t version = st.step() && !st.is_null(0) ? st.get_int(0) : 0;
  if (version > kSchemaVersion) {
    throw StoreError(fmt::format("{}: schema version {} is newer than this focalab supports "
                                 "({}); upgrade focalab",
                                 db.path(), version, kSchemaVersion));
  }
  return version;
}

void Store::migrate() {
  if (results_schema_version(db_) == kSchemaVersion) return;
  for (;;) {
    Transaction tx(db_);
    // Read under the write lock: another process may have migrated since.
    const int64_t version = results_schema_version(db_);
    if (version == kSchemaVersion) return;
    db_.exec(kMigrations[static_cast<size_t>(version)]);
    if (version + 1 == kSchemaVersion) db_.exec(kViews);
    db_.exec(fmt::format("DELETE FROM schema_version; INSERT INTO schema_version VALUES ({});",
                         version + 1));
    tx.commit();
  }
}

std::vector<TrialRow> Store::register_sweep(const SweepSpec& spec,
                                            const std::vector<TrialSpec>& trials) {
  Transaction tx(db_);
  const std::string now = now_iso();
  db_.prepare(
         "INSERT INTO sweeps (name, source_path, spec_yaml, spec_hash, reference, created_at, "
         "updated_at, focalab_version, git_revision, claims) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9) "
         "ON CONFLICT(name) DO UPDATE SET source_path = ?2, spec_yaml = ?3, spec_hash = ?4, "
         "reference = ?5, updated_at = ?6, focalab_version = ?7, git_revision = ?8, claims = ?9")
      .bind(1, spec.name)
      .bind(2, spec.source_path)
      .bind(3, spec.spec_text)
      .bind(4, fnv1a_hex(spec.spec_text))
      .bind(5, spec.reference)
      .bind(6, now)
      .bind(7, FOCALAB_VERSION)
      .bind(8, FOCALAB_GIT_REVISION)
      .bind(9, spec.claims.IsSequence() ? std::optional<std::string>(YAML::Dump(spec.claims))
                                        : std::nullopt)
      .run();
  int64_t sweep_id = 0;
  {
    auto st = db_.prepare("SELECT id FROM sweeps WHERE name = ?1");
    st.bind(1, spec.name);
    if (!st.step()) db_.fail("sweep row missing after insert");
    sweep_id = st.get_int(0);
  }
  // The sweep's trial list is its latest expansion.
  db_.prepare("DELETE FROM sweep_trials WHERE sweep_id = ?1").bind(1, sweep_id).run();
  auto insert_trial = db_.prepare(
      "INSERT INTO trials (key, seed, config_json) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO NOTHING");
  auto select_trial = db_.prepare("SELECT id, status, attempts FROM trials WHERE key = ?1");
  auto link = db_.prepare(
      "INSERT OR REPLACE INTO sweep_trials (sweep_id, trial_id, position) VALUES (?1, ?2, ?3)");
  std::vector<TrialRow> rows;
  for (size_t i = 0; i < trials.size(); ++i) {
    insert_trial.bind(1, trials[i].key).bind(2, trials[i].config.seed).bind(3, trials[i].config_json);
    insert_trial.run();
    select_trial.bind(1, trials[i].key);
    if (!select_trial.step()) db_.fail("trial row missing after insert");
    TrialRow row{select_trial.get_int(0), trials[i].key, parse_status(select_trial.get_text(1)),
                 select_trial.get_int(2)};
    select_trial.reset();
    link.bind(1, sweep_id).bind(2, row.id).bind(3, static_cast<int64_t>(i)).run();
    rows.push_back(row);
  }
  tx.commit();
  return rows;
}

bool Store::claim_trial(int64_t trial_id, const std::string& device,
                        const std::set<TrialStatus>& claimable, double stale_seconds) {
  Transaction tx(db_);
  auto st = db_.prepare(
      "SELECT status, ifnull(host, ''), ifnull(pid, 0), "
      "ifnull(strftime('%s', 'now') - strftime('%s', heartbeat_at), 1e18) "
      "FROM trials WHERE id = ?1");
  st.bind(1, trial_id);
  if (!st.step()) return false;
  const TrialStatus status = parse_status(st.get_text(0));
  bool ok = claimable.count(status) > 0;
  if (status == TrialStatus::kRunning) {
    // Another process's trial, unless that process is gone: on this host its pid no longer
    // exists; anywhere, its heartbeat stopped.
    const bool here = st.get_text(1) == host_name();
    const auto pid = static_cast<pid_t>(st.get_int(2));
    const bool dead_here = here && (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH));
    ok = dead_here || st.get_double(3) > stale_seconds;
  }
  if (!ok) return false;
  const std::string now = now_iso();
  db_.prepare(
         "UPDATE trials SET status = 'running', attempts = attempts + 1, host = ?2, device = ?3, "
         "started_at = ?4, heartbeat_at = ?4, finished_at = NULL, error = NULL, "
         "diverged_at_iter = NULL, pid = ?5 WHERE id = ?1")
      .bind(1, trial_id)
      .bind(2, host_name())
      .bind(3, device)
      .bind(4, now)
      .bind(5, static_cast<int64_t>(getpid()))
      .run();
  tx.commit();
  return true;
}

std::vector<std::string> Store::release_trials_of(int64_t pid, const std::string& reason) {
  Transaction tx(db_);
  std::vector<std::string> keys;
  {
    auto st = db_.prepare(
        "SELECT key FROM trials WHERE status = 'running' AND pid = ?1 AND host = ?2 ORDER BY id");
    st.bind(1, pid).bind(2, host_name());
    while (st.step()) keys.push_back(st.get_text(0));
  }
  db_.prepare(
         "UPDATE trials SET status = 'interrupted', finished_at = ?3, error = ?4 "
         "WHERE status = 'running' AND pid = ?1 AND host = ?2")
      .bind(1, pid)
      .bind(2, host_name())
      .bind(3, now_iso())
      .bind(4, reason)
      .run();
  tx.commit();
  return keys;
}

std::map<TrialStatus, int64_t> Store::status_counts(const std::vector<std::string>& keys) {
  std::map<TrialStatus, int64_t> out;
  auto st = db_.prepare("SELECT status FROM trials WHERE key = ?1");
  for (const auto& key : keys) {
    st.reset();
    st.bind(1, key);
    if (st.step()) ++out[parse_status(st.get_text(0))];
  }
  return out;
}

std::optional<StoredTrial> Store::find_trial(const std::string& key) {
  auto st = db_.prepare(
      "SELECT id, status, config_json, coalesce(checkpoint_path, '') FROM trials WHERE key = ?1");
  st.bind(1, key);
  if (!st.step()) return std::nullopt;
  StoredTrial t;
  t.id = st.get_int(0);
  t.key = key;
  t.status = parse_status(st.get_text(1));
  t.config_json = st.get_text(2);
  t.checkpoint_path = st.get_text(3);
  return t;
}

void Store::write_loss_cdf(int64_t trial_id, const LossCdfResult& result) {
  Transaction tx(db_);
  db_.prepare("DELETE FROM loss_cdf WHERE trial_id = ?1").bind(1, trial_id).run();
  auto ins = db_.prepare(
      "INSERT INTO loss_cdf (trial_id, iteration, gamma, examples, point, fraction, cumulative, "
      "count, images) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  for (const auto& c : result.curves) {
    for (size_t i = 0; i < c.fraction.size(); ++i) {
      ins.bind(1, trial_id).bind(2, result.iteration).bind(3, c.gamma).bind(4, c.examples);
      ins.bind(5, static_cast<int64_t>(i)).bind(6, c.fraction[i]).bind(7, c.cumulative[i]);
      ins.bind(8, c.count).bind(9, result.images).run();
    }
  }
  tx.commit();
}

void Store::heartbeat(int64_t trial_id) {
  db_.prepare("UPDATE trials SET heartbeat_at = ?2 WHERE id = ?1").bind(1, trial_id).bind(2, now_iso()).run();
}

void Store::mark_finished(int64_t trial_id, TrialStatus status, const std::string& error,
                          std::optional<int64_t> diverged_at, const std::string& checkpoint) {
  Transaction tx(db_);
  auto st = db_.prepare(
      "UPDATE trials SET status = ?2, finished_at = ?3, heartbeat_at = ?3, error = ?4, "
      "diverged_at_iter = ?5, checkpoint_path = ?6 WHERE id = ?1");
  st.bind(1, trial_id).bind(2, status_name(status)).bind(3, now_iso());
  if (error.empty()) st.bind_null(4); else st.bind(4, error);
  st.bind(5, diverged_at);
  if (checkpoint.empty()) st.bind_null(6); else st.bind(6, checkpoint);
  st.run();
  tx.commit();
}

void Store::clear_trial_results(int64_t trial_id, int64_t after) {
  Transaction tx(db_);
  for (const char* table : kResultTables) {
    db_.prepare(fmt::format("DELETE FROM {} WHERE trial_id = ?1 AND iteration > ?2", table))
        .bind(1, trial_id)
        .bind(2, after)
        .run();
  }
  tx.commit();
}

void Store::set_checkpoint(int64_t trial_id, const std::string& path) {
  db_.prepare("UPDATE trials SET checkpoint_path = ?2, heartbeat_at = ?3 WHERE id = ?1")
      .bind(1, trial_id)
      .bind(2, path)
      .bind(3, now_iso())
      .run();
}

void Store::write_interval(int64_t trial_id, const StepLog& s,
                           const losses::LossBreakdownSums& sums,
                           const losses::LossHistogramSums& histogram) {
  Transaction tx(db_);
  const bool nonfinite = !std::isfinite(s.loss_cls) || !std::isfinite(s.loss_box) ||
                         !std::isfinite(s.loss_total);
  db_.prepare(
         "INSERT OR REPLACE INTO train_steps (trial_id, iteration, lr, loss_cls, loss_box, "
         "loss_total, num_pos, normalizer, ms_per_iter, nonfinite, data_ms) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
      .bind(1, trial_id)
      .bind(2, s.iteration)
      .bind(3, s.lr)
      .bind(4, s.loss_cls)
      .bind(5, s.loss_box)
      .bind(6, s.loss_total)
      .bind(7, s.num_pos)
      .bind(8, s.normalizer)
      .bind(9, s.ms_per_iter)
      .bind(10, static_cast<int64_t>(nonfinite))
      .bind(11, s.data_ms)
      .run();
  if (sums.iterations > 0) {
    db_.prepare(
           "INSERT OR REPLACE INTO loss_intervals (trial_id, iteration, iterations, "
           "ignored_anchors, normalizer_sum) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(1, trial_id)
        .bind(2, s.iteration)
        .bind(3, sums.iterations)
        .bind(4, sums.ignored_anchors)
        .bind(5, sums.normalizer_sum)
        .run();
    auto ins = db_.prepare(
        "INSERT OR REPLACE INTO loss_breakdown (trial_id, iteration, category, class_id, count, "
        "loss_sum, nonfinite) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    for (int c = 0; c < losses::kNumLossCategories; ++c) {
      const auto cat = static_cast<losses::LossCategory>(c);
      auto write = [&](int64_t class_id, double count, double loss) {
        ins.bind(1, trial_id).bind(2, s.iteration).bind(3, losses::category_name(cat));
        ins.bind(4, class_id).bind(5, count).bind(6, loss);
        ins.bind(7, static_cast<int64_t>(!std::isfinite(loss)));
        ins.run();
      };
      write(-1, sums.total_count(cat), sums.total_loss(cat));
      for (int64_t k = 0; k < sums.num_classes; ++k) write(k, sums.count_at(cat, k), sums.loss_at(cat, k));
    }
  }
  if (histogram.iterations > 0) {
    auto ins = db_.prepare(
        "INSERT OR REPLACE INTO loss_histogram (trial_id, iteration, grp, bin, q_lo, q_hi, count, "
        "loss_sum, iterations) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    for (int g = 0; g < losses::kHistogramGroups; ++g) {
      const auto group = static_cast<losses::HistogramGroup>(g);
      for (int b = 0; b < losses::kHistogramBins; ++b) {
        const double count = histogram.count_at(group, b);
        if (count == 0) continue;
        ins.bind(1, trial_id).bind(2, s.iteration).bind(3, losses::group_name(group));
        ins.bind(4, static_cast<int64_t>(b)).bind(5, losses::kHistogramEdges[static_cast<size_t>(b)]);
        ins.bind(6, losses::kHistogramEdges[static_cast<size_t>(b) + 1]).bind(7, count);
        ins.bind(8, histogram.loss_at(group, b)).bind(9, histogram.iterations).run();
      }
    }
  }
  tx.commit();
}

void Store::write_evaluation(int64_t trial_id, int64_t iteration, const std::string& split,
                             const CocoSummary& summary,
                             const std::vector<std::string>& class_names) {
  Transaction tx(db_);
  auto ins = db_.prepare(
      "INSERT OR REPLACE INTO evaluations (trial_id, iteration, split, metric, value) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  for (size_t i = 0; i < summary.stats.size(); ++i) {
    ins.bind(1, trial_id).bind(2, iteration).bind(3, split).bind(4, CocoSummary::kNames[i]);
    ins.bind(5, summary.stats[i]).run();
  }
  if (summary.ms_per_image >= 0) {
    ins.bind(1, trial_id).bind(2, iteration).bind(3, split).bind(4, "ms_per_image");
    ins.bind(5, summary.ms_per_image).run();
  }
  auto cls = db_.prepare(
      "INSERT OR REPLACE INTO class_ap (trial_id, iteration, split, class_id, class_name, ap, "
      "ap50) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  for (size_t k = 0; k < summary.class_ap.size(); ++k) {
    cls.bind(1, trial_id).bind(2, iteration).bind(3, split).bind(4, static_cast<int64_t>(k));
    cls.bind(5, k < class_names.size() ? class_names[k] : std::to_string(k));
    cls.bind(6, summary.class_ap[k]).bind(7, summary.class_ap50[k]).run();
  }
  auto boot = db_.prepare(
      "INSERT OR REPLACE INTO bootstrap (trial_id, iteration, split, replicate, ap, ap50, ap75) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  for (size_t r = 0; r < summary.bootstrap.size(); ++r) {
    boot.bind(1, trial_id).bind(2, iteration).bind(3, split).bind(4, static_cast<int64_t>(r));
    boot.bind(5, summary.bootstrap[r][0]).bind(6, summary.bootstrap[r][1]);
    boot.bind(7, summary.bootstrap[r][2]).run();
  }
  tx.commit();
}

namespace {

int status_rank(TrialStatus s) {
  switch (s) {
    case TrialStatus::kPending: return 0;
    case TrialStatus::kRunning: return 1;
    case TrialStatus::kInterrupted: return 2;
    case TrialStatus::kFailed: return 3;
    case TrialStatus::kDiverged: return 4;
    case TrialStatus::kDone: return 5;
  }
  return 0;
}

// The columns of `table` in database `schema`, in order.
std::vector<std::string> columns_of(Database& db, const std::string& schema,
                                    const std::string& table) {
  std::vector<std::string> out;
  auto st = db.prepare(fmt::format("PRAGMA {}.table_info({})", schema, table));
  while (st.step()) out.push_back(st.get_text(1));
  return out;
}

}  // namespace

Store::MergeCounts Store::merge_from(const std::string& shard) {
  std::error_code ec;
  if (!shard.empty() && !std::filesystem::exists(shard, ec)) {  // not created: Store would
    throw StoreError(fmt::format("{}: no such results database (a shard to merge)", shard));
  }
  // The shard is only read: the shards of `sweep slurm` lie on the cluster's shared file system,
  // where nothing is written (network_filesystem). SQLite copies it (VACUUM INTO, a consistent
  // snapshot) next to this database, and the copy is brought to this schema and merged.
  static std::atomic<int> copies{0};
  struct Copy {
    std::string path;
    void remove() const {
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
    }
    ~Copy() { remove(); }
  } copy{fmt::format("{}.merge-{}-{}", db_.path(), getpid(), copies++)};
  copy.remove();  // a leftover of an earlier process that had this pid
  {
    // The path, the header and whether the file is focalab's are checked before it is read.
    Database source(shard, Database::Mode::kReadOnlySnapshot,
                    [](Database& db) { results_schema_version(db); });
    source.prepare("VACUUM INTO ?1").bind(1, copy.path).run();
  }
  { Store migrate_copy(copy.path); }
  MergeCounts counts;
  db_.prepare("ATTACH DATABASE ?1 AS shard").bind(1, copy.path).run();
  struct Detach {
    Database& db;
    ~Detach() {
      try {
        db.exec("DETACH DATABASE shard");
      } catch (...) {
      }
    }
  } detach{db_};
  Transaction tx(db_);
  // Sweeps, by name.
  const auto sweep_cols = columns_of(db_, "main", "sweeps");
  std::string sweep_list;
  for (const auto& c : sweep_cols) {
    if (c != "id") sweep_list += (sweep_list.empty() ? "" : ", ") + c;
  }
  {
    auto st = db_.prepare(fmt::format(
        "INSERT INTO main.sweeps ({0}) SELECT {0} FROM shard.sweeps s WHERE NOT EXISTS "
        "(SELECT 1 FROM main.sweeps m WHERE m.name = s.name)",
        sweep_list));
    st.run();
    counts.sweeps_added = db_.changes();
  }
  // Trials, by key.
  const auto trial_cols = columns_of(db_, "main", "trials");
  std::string trial_list, trial_set;
  for (const auto& c : trial_cols) {
    if (c == "id" || c == "key") continue;
    trial_list += (trial_list.empty() ? "" : ", ") + c;
    trial_set += fmt::format("{}{} = (SELECT {} FROM shard.trials WHERE id = ?2)",
                             trial_set.empty() ? "" : ", ", c, c);
  }
  std::vector<std::tuple<int64_t, std::string, TrialStatus>> shard_trials;
  {
    auto st = db_.prepare("SELECT id, key, status FROM shard.trials ORDER BY id");
    while (st.step()) {
      shard_trials.emplace_back(st.get_int(0), st.get_text(1), parse_status(st.get_text(2)));
    }
  }
  auto copy_results = [&](int64_t from, int64_t to) {
    for (const char* table : kResultTables) {
      std::string cols;
      for (const auto& c : columns_of(db_, "main", table)) {
        if (c != "trial_id") cols += ", " + c;
      }
      db_.prepare(fmt::format("DELETE FROM main.{} WHERE trial_id = ?1", table)).bind(1, to).run();
      db_.prepare(fmt::format("INSERT INTO main.{0} (trial_id{1}) SELECT ?1{1} FROM shard.{0} "
                              "WHERE trial_id = ?2",
                              table, cols))
          .bind(1, to)
          .bind(2, from)
          .run();
    }
  };
  for (const auto& [shard_id, key, status] : shard_trials) {
    auto find = db_.prepare("SELECT id, status FROM main.trials WHERE key = ?1");
    find.bind(1, key);
    if (!find.step()) {
      db_.prepare(fmt::format("INSERT INTO main.trials (key, {0}) SELECT key, {0} FROM "
                              "shard.trials WHERE id = ?1",
                              trial_list))
          .bind(1, shard_id)
          .run();
      copy_results(shard_id, db_.last_insert_rowid());
      ++counts.trials_added;
    } else if (status_rank(status) > status_rank(parse_status(find.get_text(1)))) {
      const int64_t main_id = find.get_int(0);
      db_.prepare(fmt::format("UPDATE main.trials SET {} WHERE id = ?1", trial_set))
          .bind(1, main_id)
          .bind(2, shard_id)
          .run();
      copy_results(shard_id, main_id);
      ++counts.trials_replaced;
    } else {
      ++counts.trials_kept;
    }
  }
  // The sweeps' trial lists.
  db_.exec(
      "INSERT OR IGNORE INTO main.sweep_trials (sweep_id, trial_id, position) "
      "SELECT ms.id, mt.id, st.position FROM shard.sweep_trials st "
      "JOIN shard.sweeps ss ON ss.id = st.sweep_id JOIN main.sweeps ms ON ms.name = ss.name "
      "JOIN shard.trials tt ON tt.id = st.trial_id JOIN main.trials mt ON mt.key = tt.key");
  tx.commit();
  return counts;
}

}  // namespace store
}  // namespace focalab::harness
