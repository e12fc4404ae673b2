#include "harness/config/reference.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>

#include "harness/config/fields.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"

namespace focalab::harness {
inline namespace config {

// Generated from experiments/reference/*.yaml by CMake (cmake/reference_data.cmake).
extern const char* const kReferenceTexts[];
extern const char* const kReferenceNames[];
extern const int kNumReference;

namespace {

std::vector<ReferenceTable> parse_all() {
  std::vector<ReferenceTable> out;
  for (int f = 0; f < kNumReference; ++f) {
    const std::string file = fmt::format("experiments/reference/{}", kReferenceNames[f]);
    YAML::Node root;
    try {
      root = YAML::Load(kReferenceTexts[f]);
    } catch (const YAML::Exception& e) {
      throw ConfigError(fmt::format("{}:{}: {}", file, e.mark.line + 1, e.msg));
    }
    const std::string name = root["name"].as<std::string>();
    const std::string citation = root["citation"] ? root["citation"].as<std::string>() : "";
    for (const auto& t : root["tables"]) {
      ReferenceTable table;
      table.id = name + "/" + t.first.as<std::string>();
      table.caption = t.second["caption"].as<std::string>("");
      table.citation = citation;
      for (const auto& r : t.second["rows"]) {
        ReferenceRow row;
        for (const auto& kv : r) {
          const std::string key = kv.first.as<std::string>();
          const Origin origin{file, kv.first.Mark().line + 1};
          if (key == "label") {
            row.label = kv.second.as<std::string>();
          } else if (key == "match") {
            for (const auto& m : kv.second) {
              const std::string path = m.first.as<std::string>();
              TrialConfig scratch;
              set_value(scratch, path, m.second, origin);
              row.match.emplace_back(path, get_value(scratch, path));
            }
          } else {
            try {
              row.metrics[key] = kv.second.as<double>();
            } catch (const YAML::Exception&) {
              throw ConfigError(fmt::format("{}: {}: '{}' is not a number", origin.str(), key,
                                            kv.second.Scalar()));
            }
          }
        }
        table.rows.push_back(std::move(row));
      }
      out.push_back(std::move(table));
    }
  }
  return out;
}

bool values_equal(const ConfigValue& a, const ConfigValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<double>(&a)) return std::fabs(*x - std::get<double>(b)) < 1e-9;
  if (const auto* x = std::get_if<std::vector<double>>(&a)) {
    const auto& y = std::get<std::vector<double>>(b);
    if (x->size() != y.size()) return false;
    for (size_t i = 0; i < x->size(); ++i) {
      if (std::fabs((*x)[i] - y[i]) >= 1e-9) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace

const std::vector<ReferenceTable>& reference_tables() {
  static const std::vector<ReferenceTable> tables = [] {
    try {
      return parse_all();
    } catch (const YAML::Exception& e) {
      throw ConfigError(fmt::format("experiments/reference: malformed shipped reference data: {}",
                                    e.what()));
    }
  }();
  return tables;
}

const ReferenceTable& find_reference(const std::string& id) {
  std::vector<std::string> ids;
  for (const auto& t : reference_tables()) {
    if (t.id == id) return t;
    ids.push_back(t.id);
  }
  const auto guess = closest_match(id, ids);
  throw ConfigError(fmt::format("unknown reference table '{}'{}; known: {}", id,
                                guess.empty() ? "" : fmt::format(" (did you mean '{}'?)", guess),
                                fmt::join(ids, ", ")));
}

const ReferenceRow* match_reference(const ReferenceTable& table, const TrialConfig& config) {
  for (const auto& row : table.rows) {
    if (row.match.empty()) continue;
    bool all = true;
    for (const auto& [path, value] : row.match) {
      all = all && values_equal(get_value(config, path), value);
    }
    if (all) return &row;
  }
  return nullptr;
}

TrialConfig config_from_json(const std::string& json, const std::string& what) {
  const Json root = parse_json<ConfigError>(json, what);
  if (!root.is_object()) throw ConfigError(what + ": not a JSON object");
  TrialConfig c;
  const Origin origin{what, 0};
  for (const auto& [key, value] : root.items()) {
    // Keys this focalab does not know (a newer database) are ignored, not fatal.
    if (const auto* f = detail::find_field(key)) {
      f->set(c, detail::value_from_json(*f, value, origin));
    }
  }
  return c;
}

}  // namespace config
}  // namespace focalab::harness
