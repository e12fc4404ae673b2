#pragma once
// What `report` and `plot` read about a sweep: its trials in sweep order with their resolved
// config, status and final val metrics, and the config keys that vary between them.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/store/sqlite.h"

namespace focalab::reports {

struct TrialData {
  int64_t id = 0;
  std::string key;
  int64_t seed = 0;
  std::string status;
  std::optional<int64_t> diverged_at;
  std::map<std::string, std::string> config;  // flat key -> value text
  std::vector<std::string> config_keys;        // in the stored (field table) order
  std::map<std::string, double> metrics;       // the last val evaluation; -1 = undefined
  // Its bootstrap replicates over the val images (AP, AP50, AP75 -> values in replicate order);
  // empty for databases of an older focalab.
  std::map<std::string, std::vector<double>> bootstrap;
  std::string config_json;
};

struct SweepData {
  std::string name;
  std::string reference;  // table ids, comma-separated
  std::string claims;     // the sweep's `claims:` as YAML (harness/config/claims.h); empty: none
  std::vector<TrialData> trials;
};

// Throws StoreError when `db_path` does not exist.
void require_results_db(const std::string& db_path);

// The sweep named `sweep` (empty: the most recently run one). Throws StoreError naming the sweeps
// the database has.
SweepData load_sweep_data(harness::Database& db, const std::string& db_path,
                          const std::string& sweep);

// Config keys (the seed aside) whose values differ between the trials, in field-table order.
std::vector<std::string> varied_config_keys(const std::vector<TrialData>& trials);

// A trial's value of `key` for tables and legends: "–" where its loss kind has no such
// parameter, "off" for alpha -1.
std::string config_cell(const TrialData& trial, const std::string& key);

}  // namespace focalab::reports
