#!/usr/bin/env bash
# Makes tests/data/schema/v1.db ... v6.db: a small results database of every schema version, as
# the focalab of that version created it (its CREATE statements, copied from harness/store.cpp at
# the commit that introduced the version), with a sweep of two trials — one done, with a step
# log, loss breakdown, histogram, evaluations, per-class AP and loss CDF where the version has
# them, and one pending. tests/harness/store_migration_test.cpp opens copies of them and checks
# that each migrates to the current schema with its rows intact.
#   tests/data/schema/make.sh [VERSION...]   (needs the sqlite3 shell; default: all of them)
set -euo pipefail
cd "$(dirname "$0")"

# Schema version 1: harness/store.cpp at aadd082.
schema_v1() {
  cat <<'SQL'
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
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
CREATE TABLE IF NOT EXISTS trials (
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
CREATE TABLE IF NOT EXISTS sweep_trials (
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, trial_id)
);
CREATE TABLE IF NOT EXISTS train_steps (
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
CREATE TABLE IF NOT EXISTS loss_breakdown (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('positive','hard_negative','easy_negative')),
  class_id INTEGER NOT NULL,
  count REAL NOT NULL,
  loss_sum REAL,
  nonfinite INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, iteration, category, class_id)
);
CREATE TABLE IF NOT EXISTS loss_intervals (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  iterations INTEGER NOT NULL,
  ignored_anchors INTEGER NOT NULL,
  normalizer_sum REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE IF NOT EXISTS evaluations (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, iteration, split, metric)
);
CREATE TABLE IF NOT EXISTS class_ap (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  class_id INTEGER NOT NULL,
  class_name TEXT,
  ap REAL,
  ap50 REAL,
  PRIMARY KEY (trial_id, iteration, split, class_id)
);
CREATE VIEW IF NOT EXISTS results AS
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
SQL
}

# Schema version 2: harness/store.cpp at e3b8b34.
schema_v2() {
  cat <<'SQL'
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
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
CREATE TABLE IF NOT EXISTS trials (
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
CREATE TABLE IF NOT EXISTS sweep_trials (
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, trial_id)
);
CREATE TABLE IF NOT EXISTS train_steps (
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
CREATE TABLE IF NOT EXISTS loss_breakdown (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('positive','hard_negative','easy_negative')),
  class_id INTEGER NOT NULL,
  count REAL NOT NULL,
  loss_sum REAL,
  nonfinite INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, iteration, category, class_id)
);
CREATE TABLE IF NOT EXISTS loss_intervals (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  iterations INTEGER NOT NULL,
  ignored_anchors INTEGER NOT NULL,
  normalizer_sum REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE IF NOT EXISTS loss_histogram (
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
CREATE TABLE IF NOT EXISTS evaluations (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, iteration, split, metric)
);
CREATE TABLE IF NOT EXISTS class_ap (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  class_id INTEGER NOT NULL,
  class_name TEXT,
  ap REAL,
  ap50 REAL,
  PRIMARY KEY (trial_id, iteration, split, class_id)
);
CREATE VIEW IF NOT EXISTS results AS
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
SQL
}

# Schema version 3: harness/store.cpp at f242c09.
schema_v3() {
  cat <<'SQL'
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
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
CREATE TABLE IF NOT EXISTS trials (
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
CREATE TABLE IF NOT EXISTS sweep_trials (
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, trial_id)
);
CREATE TABLE IF NOT EXISTS train_steps (
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
  data_ms REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE IF NOT EXISTS loss_breakdown (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('positive','hard_negative','easy_negative')),
  class_id INTEGER NOT NULL,
  count REAL NOT NULL,
  loss_sum REAL,
  nonfinite INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, iteration, category, class_id)
);
CREATE TABLE IF NOT EXISTS loss_intervals (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  iterations INTEGER NOT NULL,
  ignored_anchors INTEGER NOT NULL,
  normalizer_sum REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE IF NOT EXISTS loss_histogram (
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
CREATE TABLE IF NOT EXISTS evaluations (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, iteration, split, metric)
);
CREATE TABLE IF NOT EXISTS class_ap (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  class_id INTEGER NOT NULL,
  class_name TEXT,
  ap REAL,
  ap50 REAL,
  PRIMARY KEY (trial_id, iteration, split, class_id)
);
CREATE VIEW IF NOT EXISTS results AS
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
SQL
}

# Schema version 4: harness/store.cpp at ab3b610.
schema_v4() {
  cat <<'SQL'
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
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
CREATE TABLE IF NOT EXISTS trials (
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
  checkpoint_path TEXT,
  pid INTEGER
);
CREATE TABLE IF NOT EXISTS sweep_trials (
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, trial_id)
);
CREATE TABLE IF NOT EXISTS train_steps (
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
  data_ms REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE IF NOT EXISTS loss_breakdown (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('positive','hard_negative','easy_negative')),
  class_id INTEGER NOT NULL,
  count REAL NOT NULL,
  loss_sum REAL,
  nonfinite INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, iteration, category, class_id)
);
CREATE TABLE IF NOT EXISTS loss_intervals (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  iterations INTEGER NOT NULL,
  ignored_anchors INTEGER NOT NULL,
  normalizer_sum REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE IF NOT EXISTS loss_histogram (
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
CREATE TABLE IF NOT EXISTS evaluations (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, iteration, split, metric)
);
CREATE TABLE IF NOT EXISTS class_ap (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  class_id INTEGER NOT NULL,
  class_name TEXT,
  ap REAL,
  ap50 REAL,
  PRIMARY KEY (trial_id, iteration, split, class_id)
);
CREATE VIEW IF NOT EXISTS results AS
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
SQL
}

# Schema version 5: harness/store.cpp at 7cf1e77.
schema_v5() {
  cat <<'SQL'
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
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
CREATE TABLE IF NOT EXISTS trials (
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
  checkpoint_path TEXT,
  pid INTEGER
);
CREATE TABLE IF NOT EXISTS sweep_trials (
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, trial_id)
);
CREATE TABLE IF NOT EXISTS train_steps (
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
  data_ms REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE IF NOT EXISTS loss_breakdown (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('positive','hard_negative','easy_negative')),
  class_id INTEGER NOT NULL,
  count REAL NOT NULL,
  loss_sum REAL,
  nonfinite INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, iteration, category, class_id)
);
CREATE TABLE IF NOT EXISTS loss_intervals (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  iterations INTEGER NOT NULL,
  ignored_anchors INTEGER NOT NULL,
  normalizer_sum REAL,
  PRIMARY KEY (trial_id, iteration)
);
CREATE TABLE IF NOT EXISTS loss_histogram (
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
CREATE TABLE IF NOT EXISTS loss_cdf (
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
CREATE TABLE IF NOT EXISTS evaluations (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, iteration, split, metric)
);
CREATE TABLE IF NOT EXISTS class_ap (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  iteration INTEGER NOT NULL,
  split TEXT NOT NULL,
  class_id INTEGER NOT NULL,
  class_name TEXT,
  ap REAL,
  ap50 REAL,
  PRIMARY KEY (trial_id, iteration, split, class_id)
);
CREATE VIEW IF NOT EXISTS results AS
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
SQL
}

# Schema version 6: version 5, a sweep's claims and the evaluations' bootstrap replicates
# (harness/store/store.cpp kSchemaV6), added as focalab adds them — by rows(), after the sweep row of
# version 5's shape.
schema_v6() {
  schema_v5
}

# The rows: what a focalab of version $1 wrote for one done trial of a 4-iteration sweep.
rows() {
  local v=$1
  local pid_col="" pid_val="" data_col="" data_val2="" data_val4=""
  if ((v >= 4)); then pid_col=", pid" pid_val=", 4242"; fi
  if ((v >= 3)); then data_col=", data_ms" data_val2=", 1.5" data_val4=", 1.25"; fi
  cat <<SQL
INSERT INTO schema_version VALUES ($v);
INSERT INTO sweeps VALUES (1, 'legacy', 'experiments/legacy.yaml', 'name: legacy', '00112233aabbccdd',
  'lin2017/table1b', '2026-11-01T10:00:00Z', '2026-11-01T10:05:00Z', '0.$v.0', 'schema-v$v');
INSERT INTO trials (id, key, seed, config_json, status, attempts, host, device, started_at,
  finished_at, heartbeat_at, error, diverged_at_iter, checkpoint_path$pid_col)
VALUES (1, '0123456789abcdef', 7, '{"loss.kind": "focal", "loss.gamma": 2.0, "loss.alpha": 0.25, "model.prior_prob": 0.01, "model.backbone": "resnet18", "train.iterations": 4}',
  'done', 1, 'node1', 'cpu', '2026-11-01T10:00:01Z', '2026-11-01T10:04:59Z',
  '2026-11-01T10:04:59Z', NULL, NULL, 'legacy.db-checkpoints/0123456789abcdef.pth'$pid_val);
INSERT INTO trials (id, key, seed, config_json) VALUES (2, 'fedcba9876543210', 8,
  '{"loss.kind": "bce", "loss.gamma": 0.0, "loss.alpha": 0.5, "model.prior_prob": 0.01, "model.backbone": "resnet18", "train.iterations": 4}');
INSERT INTO sweep_trials VALUES (1, 1, 0), (1, 2, 1);
INSERT INTO train_steps (trial_id, iteration, lr, loss_cls, loss_box, loss_total, num_pos,
  normalizer, ms_per_iter, nonfinite$data_col)
VALUES (1, 2, 0.005, 1.125, 0.5, 1.625, 12.0, 12.0, 250.0, 0$data_val2),
       (1, 4, 0.0005, 0.875, 0.375, 1.25, 10.5, 10.5, 240.0, 0$data_val4);
INSERT INTO loss_breakdown VALUES
  (1, 4, 'positive', -1, 21.0, 9.5, 0), (1, 4, 'hard_negative', -1, 40.0, 6.25, 0),
  (1, 4, 'easy_negative', -1, 70000.0, 3.75, 0), (1, 4, 'positive', 0, 21.0, 9.5, 0),
  (1, 4, 'hard_negative', 0, 40.0, 6.25, 0), (1, 4, 'easy_negative', 0, 70000.0, 3.75, 0);
INSERT INTO loss_intervals VALUES (1, 2, 2, 310, 24.0), (1, 4, 2, 298, 21.0);
INSERT INTO evaluations VALUES
  (1, 2, 'val', 'AP', 0.125), (1, 2, 'val', 'AP50', 0.25), (1, 2, 'val', 'AP75', 0.0625),
  (1, 4, 'val', 'AP', 0.3125), (1, 4, 'val', 'AP50', 0.5), (1, 4, 'val', 'AP75', 0.25);
INSERT INTO class_ap VALUES (1, 4, 'val', 0, 'square', 0.3125, 0.5);
SQL
  if ((v >= 2)); then
    cat <<SQL
INSERT INTO loss_histogram VALUES (1, 4, 'positive', 3, 0.25, 0.5, 5.0, 2.5, 1),
  (1, 4, 'background', 0, 0.0, 0.001, 65000.0, 1.75, 1);
SQL
  fi
  if ((v >= 6)); then
    cat <<SQL
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
UPDATE sweeps SET claims = '- diverges: {loss.kind: focal}' WHERE id = 1;
INSERT INTO bootstrap VALUES (1, 4, 'val', 0, 0.25, 0.5, 0.125), (1, 4, 'val', 1, 0.375, 0.5, 0.25);
SQL
  fi
  if ((v >= 5)); then
    cat <<SQL
INSERT INTO loss_cdf VALUES (1, 4, 2.0, 'negative', 0, 0.0, 0.0, 64, 4),
  (1, 4, 2.0, 'negative', 1, 0.5, 0.125, 64, 4), (1, 4, 2.0, 'negative', 2, 1.0, 1.0, 64, 4);
SQL
  fi
}

for v in ${*:-1 2 3 4 5 6}; do
  rm -f "v$v.db" "v$v.db-wal" "v$v.db-shm"
  # focalab always opened its databases in WAL mode; small pages keep the files small.
  { echo "PRAGMA page_size=1024; PRAGMA journal_mode=WAL;"; echo "BEGIN;"; "schema_v$v"; rows "$v"; echo "COMMIT;"; } |
    sqlite3 -bail "v$v.db" >/dev/null
  [[ ! -e v$v.db-wal ]]
  echo "v$v.db: schema $(sqlite3 "v$v.db" "SELECT version FROM schema_version"), $(sqlite3 "v$v.db" "SELECT count(*) FROM sqlite_master") schema objects"
done
