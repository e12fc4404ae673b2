#pragma once
// The config's field table and the parsing of one value, shared by the files of harness/config/
// (fields.cpp: the table; loader.cpp: sweep files, presets and overrides; config.cpp: the checks
// across fields). Not part of the interface: the rest of focalab uses config.h.

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <limits>
#include <string>
#include <vector>

#include "harness/config/config.h"
#include "harness/util/json.h"

namespace focalab::harness {
inline namespace config {
namespace detail {

constexpr double kInf = std::numeric_limits<double>::infinity();

enum class Kind { kInt, kFloat, kBool, kString, kFloatList, kIntList };

const char* kind_name(Kind k);

struct Range {
  double lo = -kInf;
  double hi = kInf;
  bool lo_open = false;  // lo itself excluded
};

// Whether a field is part of the trial key.
enum class InKey {
  kAlways,
  kNever,          // how fast or how safely, not what (data.workers, train.checkpoint_every, ...)
  kUnlessDefault,  // added after trials were recorded: at its default, old keys stay as they were
};

struct Field {
  std::string path;
  Kind kind = Kind::kInt;
  std::string help;  // without the "synthetic: " / "focal: " prefix, which `applies_to` writes
  Range range;
  std::vector<std::string> choices;
  std::function<ConfigValue(const TrialConfig&)> get;
  std::function<void(TrialConfig&, const ConfigValue&)> set;
  // The dataset kind whose data.* key this is (nullopt: every kind). finalize_config resets the
  // other kind's keys to their defaults, so that they change neither the trial key nor the report.
  std::optional<DataKind> dataset;
  // The loss kinds whose parameter this is (empty: every kind). finalize_config sets the
  // parameters a loss does not use to `unused` (or the default when unset).
  std::vector<LossKind> losses;
  std::optional<ConfigValue> unused;
  InKey in_key = InKey::kAlways;

  Field& only_for(DataKind kind) {
    dataset = kind;
    return *this;
  }
  Field& only_for(std::vector<LossKind> kinds, std::optional<ConfigValue> when_unused = {}) {
    losses = std::move(kinds);
    unused = std::move(when_unused);
    return *this;
  }
  Field& key(InKey rule) {
    in_key = rule;
    return *this;
  }
  bool applies_to(LossKind kind) const {
    return losses.empty() || std::find(losses.begin(), losses.end(), kind) != losses.end();
  }
  // "synthetic", "coco", "alpha_ce/focal/focal_star", or "" for every dataset and loss.
  std::string applies_to() const;

  std::string allowed() const {
    if (!choices.empty()) {
      std::string s = "one of ";
      for (size_t i = 0; i < choices.size(); ++i) s += (i ? ", " : "") + choices[i];
      return s;
    }
    if (kind == Kind::kBool) return "true or false";
    if (kind == Kind::kString) return "a string";
    std::string what = (kind == Kind::kInt || kind == Kind::kIntList) ? "an integer" : "a number";
    if (kind == Kind::kFloatList || kind == Kind::kIntList) what = "a list of " + what.substr(what.find(' ') + 1) + "s";
    if (range.lo > -kInf && range.hi < kInf) {
      return fmt::format("{} in {}{}, {}]", what, range.lo_open ? "(" : "[", range.lo, range.hi);
    }
    if (range.lo > -kInf) return fmt::format("{} {} {}", what, range.lo_open ? ">" : ">=", range.lo);
    if (range.hi < kInf) return fmt::format("{} <= {}", what, range.hi);
    return what;
  }
};

// Every key of a trial config, in the order of `focalab config keys`.
const std::vector<Field>& fields();
const Field* find_field(const std::string& path);  // null when unknown
std::vector<std::string> field_paths();

// Throws ConfigError "ORIGIN: KEY: MSG".
[[noreturn]] void fail(const Origin& origin, const std::string& key, const std::string& msg);
// " (did you mean 'x'?)" for the closest candidate, or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);
// A node as flow YAML text, for messages.
std::string node_text(const YAML::Node& node);
Origin origin_of(const YAML::Node& node, const std::string& file);
// A mapping key as a string (ConfigError at its line when it is not a scalar).
std::string key_text(const YAML::Node& key, const std::string& file, const std::string& where);
// A number of field f (an integer when `integer`) in f's range, or ConfigError at origin.
double parse_number(const YAML::Node& node, const Field& f, const Origin& origin, bool integer);
// A value of field f from its YAML node, checked (kind, range, choices), or ConfigError.
ConfigValue parse_value(const Field& f, const YAML::Node& node, const Origin& origin);
// The same from a stored config's JSON value.
ConfigValue value_from_json(const Field& f, const Json& j, const Origin& origin);
// ConfigError unless v is in f's range (text: v as the user wrote it) / s is one of f's choices.
void check_range(const Field& f, double v, const std::string& text, const Origin& origin);
void check_choice(const Field& f, const std::string& s, const Origin& origin);
// A config value as JSON (numbers by json_number: 2, not 2.0).
Json value_json(const ConfigValue& value);

}  // namespace detail
}  // namespace config
}  // namespace focalab::harness
