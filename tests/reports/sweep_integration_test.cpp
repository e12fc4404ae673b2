// End to end: a 2-trial sweep on tiny synthetic data into a temporary database, then what landed
// in the database, what `report` prints, and that a second run skips finished trials.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <sstream>

#include "harness/config/config.h"
#include "harness/run/scheduler.h"
#include "harness/store/sqlite.h"
#include "harness/util/errors.h"
#include "reports/query.h"
#include "reports/report.h"
#include "test_util.h"

namespace focalab {
namespace {

using harness::Database;

const char* kSweep = R"(name: it-sweep
reference: [lin2017/table1a, lin2017/table1b]
data: {image_size: 128, num_classes: 3, train_images: 32, val_images: 8}
model: {backbone: tiny, norm: bn, frozen_stages: 0, fpn_channels: 16, head_convs: 1,
        anchor_sizes: [16, 32, 64, 128, 256]}
train: {iterations: 6, batch_size: 2, lr: 0.01, warmup_iters: 2, lr_steps: [5], log_every: 3}
sweep:
  cases:
    - {loss.kind: ce}
    - {loss.kind: focal, loss.gamma: 2.0, loss.alpha: 0.25}
)";

// The report line that starts with `prefix` once runs of spaces are collapsed, or "".
std::string report_line(const std::string& report, const std::string& prefix) {
  std::stringstream ss(report);
  std::string line;
  while (std::getline(ss, line)) {
    std::string c;
    for (char ch : line) {
      if (!(ch == ' ' && !c.empty() && c.back() == ' ')) c += ch;
    }
    if (c.rfind(prefix, 0) == 0) return c;
  }
  return "";
}

int64_t scalar(Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.step()) << sql;
  return st.get_int(0);
}

TEST(SweepIntegration, TwoTrialSweepLandsInDbAndReport) {
  testing::TempDir dir;
  const auto yaml = dir.write("it.yaml", kSweep);
  const auto db_path = dir.file("results.db");
  harness::RunOptions run;
  run.db_path = db_path;
  run.device = "cpu";
  run.threads = 2;
  auto spec = harness::load_sweep(yaml);
  auto summary = harness::run_sweep(spec, run);
  EXPECT_EQ(summary.total, 2);
  EXPECT_EQ(summary.done, 2);
  EXPECT_EQ(summary.failed + summary.diverged, 0);

  {
    Database db(db_path, Database::Mode::kReadOnly);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM sweeps WHERE name = 'it-sweep'"), 1);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM trials WHERE status = 'done' AND attempts = 1"), 2);
    // Three logging intervals per trial: iteration 1 alone (the state at init), 2..3, 4..6.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM train_steps"), 6);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM train_steps WHERE iteration IN (1, 3, 6)"), 6);
    EXPECT_EQ(scalar(db, "SELECT max(iteration) FROM train_steps"), 6);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM train_steps WHERE loss_cls > 0 AND loss_box >= 0 "
                         "AND num_pos > 0 AND lr > 0"), 6);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM loss_intervals WHERE iteration = 1 AND "
                         "iterations = 1"), 2);
    // Breakdown: 2 trials x 3 intervals x 3 categories x (all + 3 classes).
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM loss_breakdown"), 2 * 3 * 3 * 4);
    // The per-class rows add up to the all-classes row.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM (SELECT trial_id, iteration, category, "
                         "sum(CASE WHEN class_id >= 0 THEN count ELSE -count END) AS d "
                         "FROM loss_breakdown GROUP BY 1, 2, 3) WHERE abs(d) > 0.5"), 0);
    // Every element of a non-ignored anchor is counted: positives + negatives = anchors x K.
    EXPECT_GT(scalar(db, "SELECT sum(count) FROM loss_breakdown WHERE category = 'positive' "
                         "AND class_id = -1"), 0);
    // Loss histogram of each interval's last iteration: every scored element of it, at most
    // 2 images x 3069 anchors x 3 classes, in bins whose edges are ordered.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM (SELECT sum(count) AS n FROM loss_histogram "
                         "GROUP BY trial_id, iteration HAVING n > 0 AND n <= 2 * 3069 * 3)"), 6);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM loss_histogram WHERE q_lo >= q_hi OR "
                         "iterations != 1"), 0);
    EXPECT_GT(scalar(db, "SELECT count(*) FROM loss_histogram WHERE grp = 'positive'"), 0);
    // the 12 COCO metrics and the inference time per image of each trial
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM evaluations WHERE split = 'val'"), 2 * 13);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM evaluations WHERE metric = 'ms_per_image' AND "
                         "value > 0"), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM evaluations WHERE metric = 'AP' AND value >= 0 "
                         "AND value <= 1"), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM class_ap"), 2 * 3);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM results WHERE sweep = 'it-sweep' AND AP IS NOT NULL"), 2);
    EXPECT_EQ(scalar(db, "SELECT version FROM schema_version"), harness::kSchemaVersion);
  }

  reports::ReportOptions ro;
  ro.db_path = db_path;
  const std::string report = reports::render_report(ro);
  EXPECT_NE(report.find("Sweep `it-sweep` — 2 trials, 2 done"), std::string::npos) << report;
  EXPECT_NE(report.find("| loss.kind | loss.gamma | loss.alpha | status | n |"), std::string::npos)
      << report;
  // Measured numbers vary; the paper's (Table 1(a) CE, Table 1(b) gamma 2 alpha .25) do not.
  const auto ce = report_line(report, "| ce | – | – | done | 1 |");
  EXPECT_NE(ce.find("| 30.2 | 46.7 | 32.8 |"), std::string::npos) << report;
  const auto fl = report_line(report, "| focal | 2 | 0.25 | done | 1 |");
  EXPECT_NE(fl.find("| 34.0 | 52.5 | 36.5 |"), std::string::npos) << report;
  EXPECT_NE(report.find("Paper: Table 1(a)"), std::string::npos) << report;
  EXPECT_NE(report.find("Share of the classification loss"), std::string::npos) << report;

  // Query output is read-only.
  const auto csv = reports::run_query(db_path, "SELECT loss, status FROM results ORDER BY loss",
                                      reports::QueryFormat::kCsv);
  EXPECT_EQ(csv, "loss,status\nce,done\nfocal,done\n");
  // JSON: a row a line, SQLite's types kept (integer, real, text with quotes, NULL).
  const auto json = reports::run_query(
      db_path,
      "SELECT loss, gamma, 7 AS n, NULL AS none, 'a \"b\"' AS q FROM results ORDER BY loss",
      reports::QueryFormat::kJson);
  EXPECT_EQ(json,
            "[\n{\"loss\":\"ce\",\"gamma\":0,\"n\":7,\"none\":null,\"q\":\"a \\\"b\\\"\"},\n"
            "{\"loss\":\"focal\",\"gamma\":2,\"n\":7,\"none\":null,\"q\":\"a \\\"b\\\"\"}\n]\n");
  EXPECT_THROW(reports::run_query(db_path, "DELETE FROM trials", reports::QueryFormat::kCsv),
               harness::UsageError);

  // Second run: nothing to do.
  auto again = harness::run_sweep(harness::load_sweep(yaml), run);
  EXPECT_EQ(again.already_done, 2);
  EXPECT_EQ(again.done, 0);
  // A new case runs alone.
  auto more = harness::run_sweep(harness::load_sweep(yaml, {"train.iterations=3"}), run);
  EXPECT_EQ(more.done, 2);
  Database db(db_path, Database::Mode::kReadOnly);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM trials"), 4);
}

// Every loss kind and normalizer trains end to end; the logged normalizers follow their rules.
TEST(SweepIntegration, LossKindsAndNormalizers) {
  testing::TempDir dir;
  const auto yaml = dir.write("kinds.yaml", R"(name: kinds
data: {image_size: 128, num_classes: 3, train_images: 16, val_images: 4}
model: {backbone: tiny, norm: bn, frozen_stages: 0, fpn_channels: 16, head_convs: 1,
        anchor_sizes: [16, 32, 64, 128, 256]}
train: {iterations: 2, batch_size: 2, lr: 0.01, warmup_iters: 1, lr_steps: [], log_every: 1}
sweep:
  cases:
    - {loss.kind: focal_star, loss.gamma_star: 2, loss.beta: 1}
    - {loss.kind: ohem, loss.ohem_batch_size: 64, loss.ohem_nms: 0.5}
    - {loss.kind: ohem, loss.ohem_batch_size: 64, loss.ohem_pos_fraction: 0.25}
    - {loss.normalizer: per_image}
    - {loss.normalizer: ema}
    - {loss.normalizer: detectron}
)");
  harness::RunOptions run;
  run.db_path = dir.file("kinds.db");
  run.device = "cpu";
  run.threads = 2;
  auto summary = harness::run_sweep(harness::load_sweep(yaml), run);
  EXPECT_EQ(summary.done, 6);
  Database db(run.db_path, Database::Mode::kReadOnly);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM trials WHERE status = 'done'"), 6);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM train_steps WHERE loss_cls > 0"), 12);
  // OHEM: at most 64 anchors per image x 2 images x 3 classes are scored per iteration.
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM (SELECT sum(b.count) AS n FROM loss_breakdown b "
                       "JOIN trials t ON t.id = b.trial_id WHERE json_extract(t.config_json, "
                       "'$.\"loss.kind\"') = 'ohem' AND b.class_id = -1 "
                       "GROUP BY b.trial_id, b.iteration) WHERE n > 2 * 64 * 3 OR n = 0"), 0);
  auto norm = [&](const char* which, const char* check) {
    return scalar(db, fmt::format("SELECT count(*) FROM train_steps s JOIN trials t ON "
                                  "t.id = s.trial_id WHERE json_extract(t.config_json, "
                                  "'$.\"loss.normalizer\"') = '{}' AND s.iteration = 1 AND {}",
                                  which, check));
  };
  // detectron: positives + number of images; ema: 0.9 * 100 + 0.1 * max(1, positives).
  EXPECT_EQ(norm("detectron", "abs(normalizer - (num_pos + 2)) < 1e-9"), 1);
  EXPECT_EQ(norm("ema", "abs(normalizer - (90 + 0.1 * max(1, num_pos))) < 1e-9"), 1);
  EXPECT_EQ(norm("num_pos", "abs(normalizer - max(1, num_pos)) < 1e-9"), 3);  // focal_star, ohem
}

TEST(SweepIntegration, RejectsForeignDatabase) {
  testing::TempDir dir;
  const auto db_path = dir.file("other.db");
  {
    Database db(db_path, Database::Mode::kReadWriteCreate);
    db.exec("CREATE TABLE customers (id INTEGER)");
  }
  EXPECT_THROW(harness::Store{db_path}, harness::StoreError);
  const auto junk = dir.write("junk.db", "this is not sqlite at all, just text...........");
  EXPECT_THROW(harness::Store{junk}, harness::StoreError);
}

}  // namespace
}  // namespace focalab
