#pragma once
// Sweep expansion: cases x grid x seeds -> trials. A trial's key is a hash of its resolved config
// (seed included), so re-running an edited sweep finds the trials that already ran.

#include <string>
#include <vector>

#include "harness/config/config.h"

namespace focalab::harness {
inline namespace config {

struct TrialSpec {
  TrialConfig config;
  std::string config_json;  // config_to_json(config)
  std::string key;          // 16 hex digits of FNV-1a 64 over config_json
  // With InputCheck::kList: what the trial needs that is not on this machine (one line each).
  std::vector<std::string> missing_inputs;
};

// Whether expand_sweep requires the input files a trial names (data, backbone weights) to exist
// (kRequire: DataError / ConfigError on the first missing one) or lists what is missing in
// TrialSpec::missing_inputs (kList: `sweep plan`, `sweep slurm` for data on the cluster only).
enum class InputCheck { kRequire, kList };

// A sweep of more trials is refused before it is expanded (a grid multiplies quickly).
inline constexpr int64_t kMaxTrialsPerSweep = 100000;

// Expands and validates every trial (ConfigError on the first bad one, before anything runs).
// Trials with identical resolved configs are merged; order is cases, then grid, then seeds.
std::vector<TrialSpec> expand_sweep(const SweepSpec& spec,
                                    InputCheck inputs = InputCheck::kRequire);

// Config keys whose values differ between the given trials (never "seed"), in field order.
std::vector<std::string> varied_keys(const std::vector<TrialConfig>& configs);

// Short human label of a trial from the varied keys: "loss.kind=focal loss.gamma=2".
std::string trial_label(const TrialConfig& config, const std::vector<std::string>& varied);

// FNV-1a 64-bit as 16 lowercase hex digits.
std::string fnv1a_hex(const std::string& text);

}  // namespace config
}  // namespace focalab::harness
