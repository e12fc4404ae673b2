#include "harness/config/sweep.h"

#include <fmt/format.h>

#include <set>

#include "harness/config/claims.h"
#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace config {

std::string fnv1a_hex(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

std::vector<TrialSpec> expand_sweep(const SweepSpec& spec, InputCheck inputs) {
  using Settings = std::vector<SweepSpec::Setting>;
  std::vector<Settings> cases = spec.cases;
  if (cases.empty()) cases.emplace_back();
  // The size first: a grid multiplies, and a sweep file must not exhaust memory.
  double count = static_cast<double>(cases.size()) * static_cast<double>(spec.seeds.size());
  std::string factors = fmt::format("{} case(s) x {} seed(s)", cases.size(), spec.seeds.size());
  for (const auto& [path, values] : spec.grid) {
    count *= static_cast<double>(values.size());
    factors += fmt::format(" x {} {}", values.size(), path);
  }
  if (count > static_cast<double>(kMaxTrialsPerSweep)) {
    throw ConfigError(fmt::format("{}: sweep: {} = {:.0f} trials; allowed: at most {} per sweep "
                                  "(split it into several sweeps)",
                                  spec.source_path, factors, count, kMaxTrialsPerSweep));
  }
  // Cartesian product of the grid axes.
  std::vector<Settings> grid_points = {{}};
  for (const auto& [path, values] : spec.grid) {
    std::vector<Settings> next;
    for (const auto& point : grid_points) {
      for (const auto& v : values) {
        auto p = point;
        p.push_back(v);
        next.push_back(std::move(p));
      }
    }
    grid_points = std::move(next);
  }
  std::vector<TrialSpec> trials;
  std::set<std::string> seen;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    for (const auto& point : grid_points) {
      for (int64_t seed : spec.seeds) {
        TrialConfig c = spec.base;
        std::string where = spec.source_path;
        auto origins = spec.origins;
        for (const auto& s : cases[ci]) {
          set_value(c, s.path, s.value, s.origin);
          origins[s.path] = s.origin;
        }
        for (const auto& s : point) {
          set_value(c, s.path, s.value, s.origin);
          origins[s.path] = s.origin;
        }
        for (const auto& o : spec.overrides) {
          set_value(c, o.path, o.value, {"command line", 0});
          origins[o.path] = {"command line", 0};
        }
        c.seed = seed;
        if (spec.cases.size() > 1) where += fmt::format(" (sweep.cases[{}])", ci);
        std::vector<std::string> missing;
        finalize_config(c, where, origins, inputs == InputCheck::kList ? &missing : nullptr);
        TrialSpec t{c, config_to_json(c), "", std::move(missing)};
        t.key = fnv1a_hex(t.config_json);
        if (seen.insert(t.key).second) trials.push_back(std::move(t));
      }
    }
  }
  if (spec.claims.IsSequence()) {
    std::vector<TrialConfig> configs;
    for (const auto& t : trials) configs.push_back(t.config);
    // A claim the file gets wrong is an error; one that command-line overrides made miss (say
    // loss.gamma=1 on a sweep claiming something of gamma 2) is said once and left to the report,
    // whose verdict on it is inconclusive.
    for (const auto& claim : parse_claims(spec.claims, spec.claims_file)) {
      try {
        check_claims({claim}, configs);
      } catch (const ConfigError& e) {
        if (spec.overrides.empty()) throw;
        fmt::print(stderr, "warning: {} (after the command-line overrides: its verdict will be "
                           "inconclusive)\n", e.what());
      }
    }
  }
  return trials;
}

std::vector<std::string> varied_keys(const std::vector<TrialConfig>& configs) {
  std::vector<std::string> out;
  if (configs.empty()) return out;
  for (const auto& f : config_fields()) {
    if (f.path == "seed") continue;
    const std::string first = format_value(get_value(configs.front(), f.path));
    for (const auto& c : configs) {
      if (format_value(get_value(c, f.path)) != first) {
        out.push_back(f.path);
        break;
      }
    }
  }
  return out;
}

std::string trial_label(const TrialConfig& config, const std::vector<std::string>& varied) {
  std::string out;
  for (const auto& k : varied) {
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", k, format_value(get_value(config, k)));
  }
  return out.empty() ? "base" : out;
}

}  // namespace config
}  // namespace focalab::harness
