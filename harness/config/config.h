#pragma once
// The only place that reads YAML. A sweep file is parsed, its `base:` chain applied in order
// (each file relative to the one naming it; cycles are errors), `key=value` overrides applied
// last, and every key checked against the field table — unknown keys get a "did you mean",
// wrong types and out-of-range values name the file, line and what is allowed. Nothing runs
// before the whole sweep, every trial included, has been validated (see sweep.h).

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "harness/config/trial_config.h"

namespace focalab::harness {
inline namespace config {

// A config value: what one field holds.
using ConfigValue =
    std::variant<int64_t, double, bool, std::string, std::vector<double>, std::vector<int64_t>>;

// Display form: 0.25, 2, true, focal, [0.5, 1, 2].
std::string format_value(const ConfigValue& value);
// JSON form.
std::string value_to_json(const ConfigValue& value);

struct FieldInfo {
  std::string path;     // "loss.gamma"
  std::string type;     // "int", "float", "bool", "string", "list of float", "list of int"
  std::string help;     // one line: meaning, default's source
  std::string allowed;  // "one of ce, alpha_ce, focal" / ">= 0" / ...
  std::string default_value;
  std::string applies;  // "synthetic", "coco", "focal_star", "alpha_ce/focal/focal_star"; "": all
};
// Every trial key, in table order.
std::vector<FieldInfo> config_fields();

// Reads `path` (dotted key) of a trial config; throws ConfigError for an unknown key.
ConfigValue get_value(const TrialConfig& config, const std::string& path);

// Where a value came from, for error messages: "sweep.yaml:12" or "command line".
struct Origin {
  std::string file;
  int line = 0;  // 1-based; 0 = unknown
  std::string str() const;
};

// Sets a dotted key from a YAML node; validates type and range. Throws ConfigError.
void set_value(TrialConfig& config, const std::string& path, const YAML::Node& node,
               const Origin& origin);

// Whether a key is a parameter of the given loss kind ("loss.gamma" of focal: yes; of ce: no),
// from the field table. Keys outside loss.* and the shared ones (normalizer, box_beta,
// hard_score) apply to every kind. finalize_config resets the keys that do not apply to
// canonical values. The string form takes a spelling as stored ("focal"); an unknown one: true.
bool loss_key_applies(LossKind kind, const std::string& key);
bool loss_key_applies(const std::string& kind, const std::string& key);

// Cross-field checks and canonicalization (ce: gamma 0, alpha -1; alpha_ce: gamma 0).
// Throws ConfigError naming the keys, at the file:line where the first of them was set when
// `origins` knows it, else at `where`.
// Input files the config names (COCO annotations and image folders, model.backbone_weights) must
// exist: a missing one throws (DataError / ConfigError) unless `missing_inputs` is given, which
// then collects the one-line messages instead — `sweep plan` lists a sweep whose data is not on
// this machine.
void finalize_config(TrialConfig& config, const std::string& where,
                     const std::map<std::string, Origin>& origins = {},
                     std::vector<std::string>* missing_inputs = nullptr);

// The file a model.backbone_weights value names: a path as it is, or `torchvision://NAME`
// (resnet18, resnet34, resnet50, resnet101; mmdetection's spelling) for torchvision's ImageNet
// weights in its download cache, $TORCH_HOME/hub/checkpoints (default ~/.cache/torch): the file
// `torchvision.models.NAME(weights="IMAGENET1K_V1")` downloads. focalab never downloads it.
// Throws ConfigError for an unknown NAME.
std::string resolve_weights_path(const std::string& value);

// Flat canonical JSON of every field plus the seed, in table order. Hash input for trial keys.
std::string config_to_json(const TrialConfig& config);

// One `key=value` command-line override.
struct Override {
  std::string path;
  YAML::Node value;
  std::string text;  // as typed
};
// Parses "loss.gamma=1" (value parsed as YAML: numbers, lists [1,2], strings). Throws ConfigError.
Override parse_override(const std::string& text);

// A sweep file resolved: everything needed to expand the trials.
struct SweepSpec {
  std::string name;
  std::string description;
  std::string source_path;   // the YAML file as given
  std::string spec_text;     // its text (plus the base chain) as read, for the DB
  std::string reference;     // table ids, comma-separated: "lin2017/table1a,lin2017/table1b"
  TrialConfig base;          // defaults + base chain + top-level settings + overrides
  struct Setting {
    std::string path;
    YAML::Node value;
    Origin origin;
  };
  std::vector<std::vector<Setting>> cases;                  // explicit override sets
  std::vector<std::pair<std::string, std::vector<Setting>>> grid;  // key -> values
  std::vector<int64_t> seeds;                               // default {base.seed}
  std::vector<Override> overrides;                          // applied to every trial, last
  std::optional<int64_t> threads;                           // top-level `threads:`
  std::optional<int64_t> jobs;                              // top-level `jobs:`
  std::optional<std::string> device;                        // top-level `device:`
  YAML::Node claims;  // the `claims:` list as written (harness/config/claims.h); else not a list
  std::string claims_file;   // the file that holds it
  std::map<std::string, Origin> origins;  // where each key of `base` was last set
};

// Loads a sweep YAML with its base chain and the overrides. Throws ConfigError (exit 2), or
// DataError when the file is missing (exit 3).
SweepSpec load_sweep(const std::string& path, const std::vector<std::string>& overrides = {});

// Levenshtein-closest candidate within distance 3, or "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace config
}  // namespace focalab::harness
