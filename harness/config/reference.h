#pragma once
// Published numbers shipped with focalab (experiments/reference/*.yaml, compiled into the binary
// so that no file outside the executable is needed at run time). A sweep names one table or a
// list of them (`reference: [lin2017/table1a, lin2017/table1b]`); reports print a row's numbers
// beside every trial whose config matches that row's `match` keys.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "harness/config/config.h"

namespace focalab::harness {
inline namespace config {

struct ReferenceRow {
  std::string label;
  std::vector<std::pair<std::string, ConfigValue>> match;  // empty: never matches a trial
  std::map<std::string, double> metrics;                   // "AP", "AP50", ... (x100)
};

struct ReferenceTable {
  std::string id;        // "lin2017/table1b"
  std::string caption;
  std::string citation;
  std::vector<ReferenceRow> rows;
};

// Every shipped table, parsed once. Throws ConfigError if the shipped data is malformed.
const std::vector<ReferenceTable>& reference_tables();

// The table named `id`; throws ConfigError listing the known ids.
const ReferenceTable& find_reference(const std::string& id);

// The first row whose match keys all equal the trial's values (numbers within 1e-9), or null.
const ReferenceRow* match_reference(const ReferenceTable& table, const TrialConfig& config);

// Rebuilds a trial config from its stored flat JSON (config_to_json). Throws ConfigError.
TrialConfig config_from_json(const std::string& json,
                             const std::string& what = "stored trial config");

}  // namespace config
}  // namespace focalab::harness
