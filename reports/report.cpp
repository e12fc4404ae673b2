#include "reports/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "harness/config.h"
#include "harness/errors.h"
#include "harness/reference.h"
#include "harness/sqlite.h"

namespace focalab::reports {

using harness::Database;

namespace {

struct TrialInfo {
  int64_t id;
  std::string key;
  int64_t seed;
  std::string status;
  std::optional<int64_t> diverged_at;
  std::map<std::string, std::string> config;  // flat key -> value text
  std::vector<std::string> config_keys;        // in the stored (field table) order
  std::map<std::string, double> metrics;      // val metrics of the last evaluation
  std::string config_json;
  const harness::ReferenceRow* paper = nullptr;  // matching row of the sweep's reference table
  std::array<double, 3> loss_share{};         // positive / hard / easy share, last third
  bool has_share = false;
};

std::string metric_cell(const TrialInfo& t, const std::string& name) {
  auto it = t.metrics.find(name);
  if (it == t.metrics.end()) return "–";
  if (it->second < 0) return "n/a";
  return fmt::format("{:.1f}", 100 * it->second);
}

std::string status_cell(const TrialInfo& t) {
  if (t.status == "diverged" && t.diverged_at) return fmt::format("diverged@{}", *t.diverged_at);
  return t.status;
}

std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows,
                           size_t first_numeric) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (size_t i = 0; i < cells.size(); ++i) {
      s += i >= first_numeric ? fmt::format(" {:>{}} |", cells[i], w[i])
                              : fmt::format(" {:<{}} |", cells[i], w[i]);
    }
    return s + "\n";
  };
  std::string out = line(header);
  std::string rule = "|";
  for (size_t i = 0; i < header.size(); ++i) {
    rule += i >= first_numeric ? std::string(w[i] + 1, '-') + ":|" : std::string(w[i] + 2, '-') + "|";
  }
  out += rule + "\n";
  for (const auto& r : rows) out += line(r);
  return out;
}

}  // namespace

std::string render_report(const ReportOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(options.db_path, ec)) {
    throw StoreError(fmt::format("{}: no such results database (run `focalab sweep run` first or "
                                 "pass --db)",
                                 options.db_path));
  }
  Database db(options.db_path, Database::Mode::kReadOnly);
  int64_t sweep_id = -1;
  std::string sweep_name, reference, updated;
  {
    auto st = options.sweep.empty()
                  ? db.prepare("SELECT id, name, reference, updated_at FROM sweeps "
                               "ORDER BY updated_at DESC, id DESC LIMIT 1")
                  : db.prepare("SELECT id, name, reference, updated_at FROM sweeps WHERE name = ?1");
    if (!options.sweep.empty()) st.bind(1, options.sweep);
    if (st.step()) {
      sweep_id = st.get_int(0);
      sweep_name = st.get_text(1);
      reference = st.get_text(2);
      updated = st.get_text(3);
    }
  }
  if (sweep_id < 0) {
    std::vector<std::string> names;
    auto st = db.prepare("SELECT name FROM sweeps ORDER BY name");
    while (st.step()) names.push_back(st.get_text(0));
    throw StoreError(fmt::format("{}: {} (sweeps in this database: {})", options.db_path,
                                 options.sweep.empty() ? "no sweep recorded"
                                                       : "no sweep named '" + options.sweep + "'",
                                 names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }

  std::vector<TrialInfo> trials;
  {
    auto st = db.prepare(
        "SELECT t.id, t.key, t.seed, t.status, t.diverged_at_iter, t.config_json "
        "FROM sweep_trials s JOIN trials t ON t.id = s.trial_id WHERE s.sweep_id = ?1 "
        "ORDER BY s.position");
    st.bind(1, sweep_id);
    auto cfg = db.prepare("SELECT key, value FROM json_each(?1)");
    while (st.step()) {
      TrialInfo t;
      t.id = st.get_int(0);
      t.key = st.get_text(1);
      t.seed = st.get_int(2);
      t.status = st.get_text(3);
      if (!st.is_null(4)) t.diverged_at = st.get_int(4);
      t.config_json = st.get_text(5);
      cfg.bind(1, t.config_json);
      while (cfg.step()) {
        t.config_keys.push_back(cfg.get_text(0));
        t.config[cfg.get_text(0)] = cfg.get_text(1);
      }
      cfg.reset();
      trials.push_back(std::move(t));
    }
  }
  auto metrics = db.prepare(
      "SELECT metric, value FROM evaluations WHERE trial_id = ?1 AND split = 'val' AND "
      "iteration = (SELECT max(iteration) FROM evaluations WHERE trial_id = ?1 AND split = 'val')");
  // Loss share over the last third of training (by iteration), all classes.
  auto share = db.prepare(
      "SELECT category, sum(loss_sum) FROM loss_breakdown WHERE trial_id = ?1 AND class_id = -1 "
      "AND iteration > (SELECT 2 * max(iteration) / 3 FROM loss_breakdown WHERE trial_id = ?1) "
      "GROUP BY category");
  for (auto& t : trials) {
    metrics.bind(1, t.id);
    while (metrics.step()) t.metrics[metrics.get_text(0)] = metrics.is_null(1) ? -1 : metrics.get_double(1);
    metrics.reset();
    share.bind(1, t.id);
    double total = 0;
    std::map<std::string, double> by;
    while (share.step()) {
      by[share.get_text(0)] = share.get_double(1);
      total += share.get_double(1);
    }
    share.reset();
    if (total > 0) {
      t.has_share = true;
      t.loss_share = {by["positive"] / total, by["hard_negative"] / total, by["easy_negative"] / total};
    }
  }

  // The paper's numbers beside matching trials (the first table with a matching row wins).
  std::vector<const harness::ReferenceTable*> tables;
  std::string reference_note;
  try {
    std::stringstream ids(reference);
    std::string id;
    while (std::getline(ids, id, ',')) {
      if (!id.empty()) tables.push_back(&harness::find_reference(id));
    }
    for (auto& t : trials) {
      try {
        const auto config = harness::config_from_json(t.config_json);
        for (const auto* table : tables) {
          if ((t.paper = harness::match_reference(*table, config))) break;
        }
      } catch (const ConfigError&) {
        t.paper = nullptr;  // a config this focalab cannot read: no paper numbers for it
      }
    }
  } catch (const ConfigError& e) {
    reference_note = fmt::format("\nReference not shown: {}\n", e.what());
    tables.clear();
  }
  const bool with_paper = !tables.empty();

  // Columns: config keys whose value differs across the sweep's trials.
  std::vector<std::string> varied;
  if (!trials.empty()) {
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
  }
  bool many_seeds = false;
  for (const auto& t : trials) many_seeds = many_seeds || t.seed != trials.front().seed;

  std::vector<std::string> header = varied;
  if (many_seeds) header.push_back("seed");
  const size_t first_numeric = header.size() + 1;
  header.push_back("status");
  for (const char* m : {"AP", "AP50", "AP75"}) header.push_back(m);
  if (with_paper) {
    for (const char* m : {"paper AP", "paper AP50", "paper AP75"}) header.push_back(m);
  }
  std::vector<std::vector<std::string>> rows;
  int64_t done = 0;
  for (const auto& t : trials) {
    std::vector<std::string> row;
    for (const auto& k : varied) {
      auto it = t.config.find(k);
      std::string v = it == t.config.end() ? "" : it->second;
      const auto kind = t.config.find("loss.kind");
      if (kind != t.config.end() && !harness::loss_key_applies(kind->second, k)) {
        v = "–";  // a parameter this trial's loss does not have
      } else if (k == "loss.alpha" && v == "-1") {
        v = "off";
      }
      row.push_back(v);
    }
    if (many_seeds) row.push_back(std::to_string(t.seed));
    row.push_back(status_cell(t));
    for (const char* m : {"AP", "AP50", "AP75"}) row.push_back(metric_cell(t, m));
    if (with_paper) {
      for (const char* m : {"AP", "AP50", "AP75"}) {
        row.push_back(t.paper && t.paper->metrics.count(m)
                          ? fmt::format("{:.1f}", t.paper->metrics.at(m))
                          : "–");
      }
    }
    done += t.status == "done";
    rows.push_back(std::move(row));
  }
  std::string out = fmt::format("## Sweep `{}` — {} trials, {} done ({})\n\n", sweep_name,
                                trials.size(), done, options.db_path);
  out += markdown_table(header, rows, first_numeric);
  out += "\nCOCO-style box AP x100 on the val split (IoU .50:.95, .50, .75).\n";
  for (const auto* table : tables) {
    out += fmt::format("Paper: {} — {}.\n", table->caption, table->citation);
  }
  if (with_paper) {
    out += "The paper's numbers are COCO with ResNet-50/101: compare trends, not values, when the "
           "data or model differ.\n";
  }
  out += reference_note;

  // Where the classification loss came from.
  std::vector<std::vector<std::string>> share_rows;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (!trials[i].has_share) continue;
    std::vector<std::string> row(rows[i].begin(), rows[i].begin() + static_cast<long>(varied.size() + many_seeds));
    for (double s : trials[i].loss_share) row.push_back(fmt::format("{:.1f}%", 100 * s));
    share_rows.push_back(std::move(row));
  }
  if (!share_rows.empty()) {
    std::vector<std::string> h(header.begin(), header.begin() + static_cast<long>(varied.size() + many_seeds));
    const size_t fn = h.size();
    for (const char* c : {"positives", "hard negatives", "easy negatives"}) h.push_back(c);
    out += "\n### Share of the classification loss, last third of training\n\n";
    out += markdown_table(h, share_rows, fn);
    out += "\nHard negative: background element with p >= loss.hard_score (default 0.05, the "
           "inference threshold).\n";
  }
  return out;
}

}  // namespace focalab::reports
