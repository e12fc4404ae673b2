// Sweep files (`base:` chains, checked key by key with file:line), the presets compiled in, and
// `key=value` overrides, into a SweepSpec.

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/depthguard.h>

#include "harness/config/claims.h"
#include "harness/config/config.h"
#include "harness/config/fields.h"
#include "harness/config/presets.h"
#include "harness/config/reference.h"
#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace config {

namespace fs = std::filesystem;

// Generated from experiments/configs/*.yaml by CMake (cmake/reference_data.cmake).
extern const char* const kPresetTexts[];
extern const char* const kPresetNames[];
extern const int kNumPreset;

namespace {

using namespace detail;

// Flattens {loss: {gamma: 2}} and {loss.gamma: 2} alike into (path, node) pairs.
void flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
             std::vector<SweepSpec::Setting>& out) {
  for (const auto& kv : node) {
    const std::string key = key_text(kv.first, file, prefix.empty() ? "key" : prefix);
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (find_field(path)) {
      out.push_back({path, kv.second, origin_of(kv.first, file)});
    } else if (kv.second.IsMap()) {
      flatten(kv.second, path, file, out);
    } else {
      fail(origin_of(kv.first, file), path,
           fmt::format("unknown key{}", did_you_mean(path, field_paths())));
    }
  }
}

// yaml-cpp's parser recurses once per level of nesting and stops at 500 levels (its DepthGuard),
// with the message "bad file"; say what is wrong instead.
std::string yaml_problem(const YAML::Exception& e) {
  if (dynamic_cast<const YAML::DeepRecursion*>(&e)) return "nested deeper than 500 levels";
  return e.msg;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The top-level keys of a sweep file, in the order the "allowed:" message lists them.
const std::vector<std::string> kTopKeys = {"name",   "description", "base",  "reference", "claims",
                                           "threads", "jobs",       "device", "seed",     "data",
                                           "model",  "loss",        "train", "sweep"};

// The text of a preset compiled in (kPresetNames: file names in experiments/configs/), or null.
const char* preset_text(const std::string& file_name) {
  for (int i = 0; i < kNumPreset; ++i) {
    if (file_name == kPresetNames[i]) return kPresetTexts[i];
  }
  return nullptr;
}

// Applies the sweep file `path` (and its `base:` chain, first) to spec. embedded: the file and
// its bases are the presets compiled in, looked up by file name, not read from disk.
void apply_file(const fs::path& path, SweepSpec& spec, std::vector<fs::path>& chain,
                const Origin& named_at, bool embedded = false) {
  std::error_code ec;
  const char* embedded_text = embedded ? preset_text(path.filename().string()) : nullptr;
  if (embedded && !embedded_text) {
    throw ConfigError(fmt::format("{}: no preset '{}' in focalab (experiments/configs/)",
                                  named_at.str(), path.filename().string()));
  }
  if (!embedded && !fs::is_regular_file(path, ec)) {
    throw ConfigError(fmt::format("{}: sweep file '{}' not found{}", named_at.str(),
                                  path.string(), fs::exists(path, ec) ? " (not a file)" : ""));
  }
  const fs::path canonical = embedded ? path.lexically_normal() : fs::weakly_canonical(path, ec);
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
    std::string cycle;
    for (const auto& p : chain) cycle += p.filename().string() + " -> ";
    throw ConfigError(fmt::format("{}: base: cycle {}{}", named_at.str(), cycle,
                                  canonical.filename().string()));
  }
  chain.push_back(canonical);
  const std::string file = path.string();
  const std::string text = embedded ? std::string(embedded_text) : read_text(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}: YAML syntax error: {}", file, e.mark.line + 1,
                                  yaml_problem(e)));
  }
  if (root.IsNull()) throw ConfigError(fmt::format("{}: empty sweep file", file));
  if (!root.IsMap()) {
    throw ConfigError(fmt::format("{}:1: the top level must be a mapping of keys ({})", file,
                                  "name, loss, train, sweep, ..."));
  }
  if (root["base"]) {
    const auto base_node = root["base"];
    if (!base_node.IsScalar()) fail(origin_of(base_node, file), "base", "expected a file path");
    apply_file(path.parent_path() / base_node.Scalar(), spec, chain, origin_of(base_node, file),
               embedded);
  }
  spec.spec_text += fmt::format("# --- {} ---\n{}\n", file, text);

  for (const auto& kv : root) {
    const std::string key = key_text(kv.first, file, "top-level key");
    const YAML::Node& value = kv.second;
    const Origin origin = origin_of(kv.first, file);
    if (key == "base") continue;
    if (key == "reference") {
      // One table or a list of tables: stored comma-separated, matched in order.
      std::vector<std::string> ids;
      if (value.IsScalar()) {
        ids.push_back(value.Scalar());
      } else if (value.IsSequence()) {
        for (const auto& v : value) {
          if (!v.IsScalar()) fail(origin, key, "expected a table id like lin2017/table1b");
          ids.push_back(v.Scalar());
        }
      } else {
        fail(origin, key, "expected a table id like lin2017/table1b, or a list of them");
      }
      for (const auto& id : ids) {
        try {
          find_reference(id);
        } catch (const ConfigError& e) {
          fail(origin, key, e.what());
        }
      }
      spec.reference = fmt::format("{}", fmt::join(ids, ","));
    } else if (key == "claims") {
      parse_claims(value, file);  // checked here, at its file and line; kept as written
      spec.claims = value;
      spec.claims_file = file;
    } else if (key == "name" || key == "description" || key == "device") {
      if (!value.IsScalar()) fail(origin, key, "expected a string");
      if (key == "name") spec.name = value.Scalar();
      if (key == "description") spec.description = value.Scalar();
      if (key == "device") spec.device = value.Scalar();
    } else if (key == "threads") {
      Field f;
      f.path = "threads";
      f.range = {0, 4096};
      spec.threads = static_cast<int64_t>(parse_number(value, f, origin, true));
    } else if (key == "jobs") {
      Field f;
      f.path = "jobs";
      f.range = {1, 256};
      spec.jobs = static_cast<int64_t>(parse_number(value, f, origin, true));
    } else if (key == "seed") {
      set_value(spec.base, "seed", value, origin);
      spec.origins["seed"] = origin;
    } else if (key == "data" || key == "model" || key == "loss" || key == "train") {
      if (!value.IsMap()) fail(origin, key, "expected a mapping of keys");
      std::vector<SweepSpec::Setting> settings;
      flatten(value, key, file, settings);
      for (const auto& s : settings) {
        set_value(spec.base, s.path, s.value, s.origin);
        spec.origins[s.path] = s.origin;
      }
    } else if (key == "sweep") {
      if (!value.IsMap()) fail(origin, key, "expected a mapping with cases, grid and/or seeds");
      spec.cases.clear();
      spec.grid.clear();
      spec.seeds.clear();
      for (const auto& skv : value) {
        const std::string skey = key_text(skv.first, file, "sweep");
        const Origin sorigin = origin_of(skv.first, file);
        if (skey == "cases") {
          if (!skv.second.IsSequence()) {
            fail(sorigin, "sweep.cases", "expected a list of mappings like {loss.gamma: 2}");
          }
          for (const auto& c : skv.second) {
            if (!c.IsMap()) {
              fail(origin_of(c, file), "sweep.cases",
                   fmt::format("each case must be a mapping like {{loss.gamma: 2}}, got '{}'",
                               node_text(c)));
            }
            std::vector<SweepSpec::Setting> settings;
            flatten(c, "", file, settings);
            spec.cases.push_back(settings);
          }
        } else if (skey == "grid") {
          if (!skv.second.IsMap()) {
            fail(sorigin, "sweep.grid", "expected a mapping like {loss.gamma: [0, 1, 2]}");
          }
          std::vector<SweepSpec::Setting> keys;
          for (const auto& g : skv.second) {
            const std::string gpath = key_text(g.first, file, "sweep.grid");
            const Origin gorigin = origin_of(g.first, file);
            if (!find_field(gpath)) {
              fail(gorigin, "sweep.grid." + gpath,
                   fmt::format("unknown key{}", did_you_mean(gpath, field_paths())));
            }
            if (!g.second.IsSequence() || g.second.size() == 0) {
              fail(gorigin, "sweep.grid." + gpath, "expected a non-empty list of values");
            }
            std::vector<SweepSpec::Setting> values;
            for (const auto& v : g.second) values.push_back({gpath, v, origin_of(v, file)});
            spec.grid.emplace_back(gpath, values);
          }
        } else if (skey == "seeds") {
          if (!skv.second.IsSequence() || skv.second.size() == 0) {
            fail(sorigin, "sweep.seeds", "expected a non-empty list of integers like [1, 2, 3]");
          }
          for (const auto& s : skv.second) {
            TrialConfig scratch;
            set_value(scratch, "seed", s, origin_of(s, file));
            spec.seeds.push_back(scratch.seed);
          }
        } else {
          fail(sorigin, "sweep." + skey,
               fmt::format("unknown key; allowed: cases, grid, seeds{}",
                           did_you_mean(skey, {"cases", "grid", "seeds"})));
        }
      }
    } else {
      fail(origin, key, fmt::format("unknown top-level key{}; allowed: {}",
                                    did_you_mean(key, kTopKeys), fmt::join(kTopKeys, ", ")));
    }
  }
  chain.pop_back();
}

}  // namespace

Override parse_override(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(fmt::format("command line: override '{}' must look like key=value, e.g. "
                                  "loss.gamma=1 or train.lr_steps=[300,400]",
                                  text));
  }
  Override o;
  o.path = text.substr(0, eq);
  o.text = text;
  if (!find_field(o.path)) {
    throw ConfigError(fmt::format("command line: {}: unknown key{}", o.path,
                                  did_you_mean(o.path, field_paths())));
  }
  try {
    o.value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    std::string value = text.substr(eq + 1);
    if (value.size() > 60) value = value.substr(0, 57) + "...";  // one readable line
    throw ConfigError(fmt::format("command line: {}: cannot parse value '{}': {}", o.path, value,
                                  yaml_problem(e)));
  }
  return o;
}

SweepSpec load_sweep(const std::string& path, const std::vector<std::string>& overrides) {
  SweepSpec spec;
  spec.source_path = path;
  std::vector<fs::path> chain;
  try {
    apply_file(fs::path(path), spec, chain, Origin{"command line", 0});
  } catch (const YAML::Exception& e) {
    // a YAML shape no check above expected: still one line naming the file and the line
    throw ConfigError(fmt::format("{}:{}: {}", path, e.mark.is_null() ? 0 : e.mark.line + 1,
                                  e.msg));
  }
  if (spec.name.empty()) spec.name = fs::path(path).stem().string();

  for (const auto& text : overrides) spec.overrides.push_back(parse_override(text));
  for (const auto& o : spec.overrides) {
    set_value(spec.base, o.path, o.value, Origin{"command line", 0});
    spec.origins[o.path] = Origin{"command line", 0};
  }
  if (spec.seeds.empty()) spec.seeds.push_back(spec.base.seed);
  return spec;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (int i = 0; i < kNumPreset; ++i) {
    names.push_back(fs::path(kPresetNames[i]).stem().string());
  }
  return names;
}

TrialConfig preset_config(const std::string& name) {
  if (!preset_text(name + ".yaml")) {
    throw UsageError(fmt::format("preset '{}': no such preset; allowed: {}", name,
                                 fmt::join(preset_names(), ", ")));
  }
  SweepSpec spec;
  std::vector<fs::path> chain;
  apply_file(fs::path("experiments/configs") / (name + ".yaml"), spec, chain,
             Origin{"preset " + name, 0}, true);
  return spec.base;
}

}  // namespace config
}  // namespace focalab::harness
