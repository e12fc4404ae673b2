#include "reports/sweep_data.h"

#include <fmt/format.h>

#include <filesystem>

#include "harness/config/config.h"
#include "harness/store/sqlite.h"
#include "harness/store/store.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"

namespace focalab::reports {

void require_results_db(const std::string& db_path) {
  if (db_path.empty()) harness::check_database_path(db_path, harness::Database::Mode::kReadOnly);
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    throw harness::StoreError(
        fmt::format("{}: no such results database (run `focalab sweep run` first or "
                    "pass --db)",
                    db_path));
  }
  harness::Database db(db_path, harness::Database::Mode::kReadOnly);
  harness::results_schema_version(db);
}

SweepData load_sweep_data(harness::Database& db, const std::string& db_path,
                          const std::string& sweep) {
  SweepData out;
  int64_t sweep_id = -1;
  {
    auto st = sweep.empty()
                  ? db.prepare("SELECT id, name, reference FROM sweeps "
                               "ORDER BY updated_at DESC, id DESC LIMIT 1")
                  : db.prepare("SELECT id, name, reference FROM sweeps WHERE name = ?1");
    if (!sweep.empty()) st.bind(1, sweep);
    if (st.step()) {
      sweep_id = st.get_int(0);
      out.name = st.get_text(1);
      out.reference = st.is_null(2) ? "" : st.get_text(2);
    }
  }
  // Claims: schema 6 on (a database of an older focalab, read as it is, has none).
  if (sweep_id >= 0) {
    bool has_claims = false;
    auto cols = db.prepare("SELECT name FROM pragma_table_info('sweeps')");
    while (cols.step()) has_claims = has_claims || cols.get_text(0) == "claims";
    if (has_claims) {
      auto st = db.prepare("SELECT claims FROM sweeps WHERE id = ?1");
      st.bind(1, sweep_id);
      if (st.step() && !st.is_null(0)) out.claims = st.get_text(0);
    }
  }
  if (sweep_id < 0) {
    std::vector<std::string> names;
    auto st = db.prepare("SELECT name FROM sweeps ORDER BY name");
    while (st.step()) names.push_back(st.get_text(0));
    throw harness::StoreError(fmt::format("{}: {} (sweeps in this database: {})", db_path,
                                 sweep.empty() ? "no sweep recorded"
                                               : "no sweep named '" + sweep + "'",
                                 names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  auto st = db.prepare(
      "SELECT t.id, t.key, t.seed, t.status, t.diverged_at_iter, t.config_json "
      "FROM sweep_trials s JOIN trials t ON t.id = s.trial_id WHERE s.sweep_id = ?1 "
      "ORDER BY s.position");
  st.bind(1, sweep_id);
  auto metrics = db.prepare(
      "SELECT metric, value FROM evaluations WHERE trial_id = ?1 AND split = 'val' AND "
      "iteration = (SELECT max(iteration) FROM evaluations WHERE trial_id = ?1 AND split = 'val')");
  bool has_bootstrap = false;
  {
    auto t = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'bootstrap'");
    has_bootstrap = t.step();
  }
  std::optional<harness::Statement> boot;
  if (has_bootstrap) {
    boot.emplace(db.prepare(
        "SELECT ap, ap50, ap75 FROM bootstrap WHERE trial_id = ?1 AND split = 'val' AND "
        "iteration = (SELECT max(iteration) FROM evaluations WHERE trial_id = ?1 AND split = "
        "'val') ORDER BY replicate"));
  }
  while (st.step()) {
    TrialData t;
    t.id = st.get_int(0);
    t.key = st.get_text(1);
    t.seed = st.get_int(2);
    t.status = st.get_text(3);
    if (!st.is_null(4)) t.diverged_at = st.get_int(4);
    t.config_json = st.get_text(5);
    const auto config = harness::parse_json<harness::StoreError>(
        t.config_json, harness::stored_config_name(db_path, t.key));
    for (const auto& [key, value] : config.items()) {
      t.config_keys.push_back(key);
      // strings as they are, numbers and lists as the canonical JSON spells them
      t.config[key] = value.is_string() ? value.get<std::string>() : harness::canonical_json(value);
    }
    metrics.bind(1, t.id);
    while (metrics.step()) {
      t.metrics[metrics.get_text(0)] = metrics.is_null(1) ? -1 : metrics.get_double(1);
    }
    metrics.reset();
    if (boot) {
      boot->bind(1, t.id);
      while (boot->step()) {
        const char* names[3] = {"AP", "AP50", "AP75"};
        for (int c = 0; c < 3; ++c) {
          if (!boot->is_null(c)) t.bootstrap[names[c]].push_back(boot->get_double(c));
        }
      }
      boot->reset();
    }
    out.trials.push_back(std::move(t));
  }
  return out;
}

std::vector<std::string> varied_config_keys(const std::vector<TrialData>& trials) {
  std::vector<std::string> varied;
  if (trials.empty()) return varied;
  for (const auto& key : trials.front().config_keys) {
    if (key == "seed") continue;
    const std::string& value = trials.front().config.at(key);
    for (const auto& t : trials) {
      auto it = t.config.find(key);
      if (it == t.config.end() || it->second != value) {
        varied.push_back(key);
        break;
      }
    }
  }
  return varied;
}

std::string config_cell(const TrialData& t, const std::string& key) {
  auto it = t.config.find(key);
  const std::string v = it == t.config.end() ? "" : it->second;
  const auto kind = t.config.find("loss.kind");
  if (kind != t.config.end() && !harness::loss_key_applies(kind->second, key)) {
    return "–";  // a parameter this trial's loss does not have
  }
  if (key == "loss.alpha" && v == "-1") return "off";
  return v;
}

}  // namespace focalab::reports
