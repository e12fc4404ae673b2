#pragma once
// The config presets of experiments/configs/ (tiny, paper_regime, ...), compiled into focalab at
// build time: the one definition of each preset, for the sweeps (`base: ../configs/tiny.yaml`),
// `focalab bench train` and the tests alike.

#include <string>
#include <vector>

#include "harness/config/trial_config.h"

namespace focalab::harness {
inline namespace config {

// The presets' names (file names without .yaml), sorted.
std::vector<std::string> preset_names();

// A preset's settings (its `base:` chain applied first) over the defaults, as a sweep file
// naming it as `base:` would start from. Throws UsageError for an unknown name.
TrialConfig preset_config(const std::string& name);

}  // namespace config
}  // namespace focalab::harness
