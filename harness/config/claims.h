#pragma once
// What a sweep expects of its results (`claims:` in the sweep file), for example the paper's
// findings; `focalab report` gives each a verdict — holds, fails or inconclusive — from the
// trials and their seed-to-seed spread (reports/verdicts.h). Parsed and checked here, where the
// sweep is: every claim must name configurations the sweep has.
//
//   claims:
//     - better: {loss.kind: focal, loss.gamma: 2}        # this configuration's AP is higher
//       than: {loss.kind: alpha_ce, loss.alpha: 0.75}    # than this one's
//       metric: AP                                       # AP (default), AP50, AP75, APs, APm, APl
//     - peak: loss.gamma          # over this key, AP rises and then falls
//       where: {loss.kind: focal} # among these configurations (default: all)
//       at: 2                     # optional: and is highest here
//     - collapses: {loss.kind: alpha_ce, loss.alpha: 0.1}  # AP below `below` x the best row's
//       below: 0.1                                         # (default 0.1)
//     - diverges: {loss.kind: ce, model.prior_prob: 0}     # its trials diverge
//     - close: {loss.kind: focal_star, loss.gamma_star: 2} # within `within` of
//       to: {loss.kind: focal, loss.gamma: 2}              # this one's AP, either side
//       within: 1.0                                        # (default 1.0, in the metric's units)

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/config/config.h"

namespace focalab::harness {
inline namespace config {

// Selects configurations: each key equal to its value, compared as the field's type (0.75 and
// .75 are one value; a loss key its loss does not have holds its canonical value).
struct ConfigFilter {
  std::vector<std::pair<std::string, ConfigValue>> values;
  bool matches(const TrialConfig& config) const;
  std::string str() const;  // "loss.kind=focal, loss.gamma=2"; "all" when empty
};

// "key=value[,key=value...]" as typed on a command line (each value read as YAML, checked by the
// field table). Throws UsageError naming `option`, the item and what is allowed.
ConfigFilter parse_filter_text(const std::string& text, const std::string& option);

enum class ClaimKind { kBetter, kPeak, kCollapses, kDiverges, kClose };

struct Claim {
  ClaimKind kind = ClaimKind::kBetter;
  ConfigFilter subject;  // better / collapses / diverges: the configuration; peak: `where`
  ConfigFilter than;     // better: the configuration it beats; close: the one it is close to
  std::string key;       // peak: the key the metric rises and falls over
  std::optional<ConfigValue> at;  // peak: where the metric should be highest
  double below = 0.1;    // collapses: the fraction of the best configuration's metric
  double within = 1.0;   // close: the largest difference either way that counts as close
  std::string metric = "AP";
  std::string origin;    // "sweep.yaml:12"
  std::string text() const;  // one line, as the report shows it
};

// The metrics a claim may name.
const std::vector<std::string>& claim_metrics();

// Parses a `claims:` list. Throws ConfigError naming file:line, the key and what is allowed.
std::vector<Claim> parse_claims(const YAML::Node& node, const std::string& file);

// Whether each claim names configurations the sweep has (seeds aside): better, close, collapses
// and diverges exactly one each (better and close: and one for `than` / `to`); peak, 3 or more values of its key among `where`'s configurations
// (one configuration per value), and its `at` one of them. Throws ConfigError at the claim.
// (expand_sweep calls it; after command-line overrides a miss is a warning, not an error.)
void check_claims(const std::vector<Claim>& claims, const std::vector<TrialConfig>& configs);

}  // namespace config
}  // namespace focalab::harness
