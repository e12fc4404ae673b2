#include "harness/config/claims.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace config {

namespace {

const std::vector<std::string> kKinds = {"better", "peak", "collapses", "diverges", "close"};

std::string where_of(const YAML::Node& node, const std::string& file) {
  const auto mark = node.Mark();
  return mark.is_null() ? file : fmt::format("{}:{}", file, mark.line + 1);
}

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& msg) {
  throw ConfigError(fmt::format("{}: {}: {}", where, key, msg));
}

std::string flow_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter e;
  e.SetSeqFormat(YAML::Flow);
  e.SetMapFormat(YAML::Flow);
  e << node;
  return e.c_str();
}

// A mapping of config keys to values, each validated by the field table.
ConfigFilter parse_filter(const YAML::Node& node, const std::string& file, const std::string& key,
                          bool may_be_empty) {
  const std::string where = where_of(node, file);
  if (!node.IsMap() || (node.size() == 0 && !may_be_empty)) {
    fail(where, key, fmt::format("expected a mapping of config keys to values like "
                                 "{{loss.kind: focal, loss.gamma: 2}}, got '{}'",
                                 flow_text(node)));
  }
  ConfigFilter filter;
  TrialConfig scratch;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) fail(where, key, "a key must be a config key like loss.gamma");
    const std::string path = kv.first.Scalar();
    try {
      set_value(scratch, path, kv.second, Origin{file, kv.first.Mark().line + 1});
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{} (in claims: {})", e.what(), key));
    }
    filter.values.emplace_back(path, get_value(scratch, path));
  }
  return filter;
}

std::string kind_name(ClaimKind k) { return kKinds[static_cast<size_t>(k)]; }

// The configurations (seeds aside) among `configs` that `filter` selects.
std::vector<const TrialConfig*> distinct_matches(const ConfigFilter& filter,
                                                 const std::vector<TrialConfig>& configs) {
  std::vector<const TrialConfig*> out;
  std::set<std::string> seen;
  for (const auto& c : configs) {
    if (!filter.matches(c)) continue;
    TrialConfig unseeded = c;
    unseeded.seed = 0;
    if (seen.insert(config_to_json(unseeded)).second) out.push_back(&c);
  }
  return out;
}

}  // namespace

bool ConfigFilter::matches(const TrialConfig& config) const {
  return std::all_of(values.begin(), values.end(),
                     [&](const auto& kv) { return get_value(config, kv.first) == kv.second; });
}

std::string ConfigFilter::str() const {
  if (values.empty()) return "all";
  std::vector<std::string> parts;
  for (const auto& [k, v] : values) parts.push_back(fmt::format("{}={}", k, format_value(v)));
  return fmt::format("{}", fmt::join(parts, ", "));
}

ConfigFilter parse_filter_text(const std::string& text, const std::string& option) {
  ConfigFilter filter;
  TrialConfig scratch;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      throw UsageError(fmt::format("{} '{}': '{}' is not key=value (example: {} "
                                   "loss.kind=alpha_ce,loss.alpha=0.75)",
                                   option, text, item, option));
    }
    const std::string key = item.substr(0, eq);
    try {
      set_value(scratch, key, YAML::Load(item.substr(eq + 1)), Origin{option, 0});
    } catch (const ConfigError& e) {
      throw UsageError(e.what());
    } catch (const YAML::Exception& e) {
      throw UsageError(fmt::format("{} '{}': {}: {}", option, text, item, e.msg));
    }
    filter.values.emplace_back(key, get_value(scratch, key));
    start = comma + 1;
  }
  return filter;
}

std::string Claim::text() const {
  switch (kind) {
    case ClaimKind::kBetter:
      return fmt::format("{} better than {} ({})", subject.str(), than.str(), metric);
    case ClaimKind::kPeak:
      return fmt::format("{} peaks over {}{}{}", metric, key,
                         at ? fmt::format(" at {}", format_value(*at)) : "",
                         subject.values.empty() ? "" : fmt::format(" ({})", subject.str()));
    case ClaimKind::kCollapses:
      return fmt::format("{} collapses ({} below {:g} x the best)", subject.str(), metric, below);
    case ClaimKind::kDiverges:
      return fmt::format("{} diverges", subject.str());
    case ClaimKind::kClose:
      return fmt::format("{} close to {} ({} within {:g})", subject.str(), than.str(), metric,
                         within);
  }
  return {};
}

const std::vector<std::string>& claim_metrics() {
  static const std::vector<std::string> m = {"AP", "AP50", "AP75", "APs", "APm", "APl"};
  return m;
}

namespace {

// A number strictly between lo and hi, or ConfigError "FILE:LINE: KEY: 'VALUE': expected WHAT".
double number_in(const YAML::Node& node, const std::string& file, const std::string& key,
                 double lo, double hi, const std::string& what) {
  double v = lo;
  try {
    v = node.as<double>();
  } catch (const YAML::Exception&) {
  }
  if (!(v > lo && v < hi)) {
    fail(where_of(node, file), key, fmt::format("'{}': expected {}", flow_text(node), what));
  }
  return v;
}

}  // namespace

std::vector<Claim> parse_claims(const YAML::Node& node, const std::string& file) {
  if (!node.IsSequence()) {
    fail(where_of(node, file), "claims",
         "expected a list of claims like - better: {loss.kind: focal}, than: {loss.kind: ce}");
  }
  std::vector<Claim> out;
  for (const auto& item : node) {
    const std::string where = where_of(item, file);
    if (!item.IsMap()) {
      fail(where, "claims", fmt::format("each claim is a mapping with one of {}, got '{}'",
                                        fmt::join(kKinds, ", "), flow_text(item)));
    }
    Claim c;
    c.origin = where;
    std::vector<std::string> kinds;
    for (const auto& kv : item) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : flow_text(kv.first);
      if (std::find(kKinds.begin(), kKinds.end(), k) != kKinds.end()) kinds.push_back(k);
    }
    if (kinds.size() != 1) {
      fail(where, "claims",
           fmt::format("a claim has exactly one of {} (this one: {})", fmt::join(kKinds, ", "),
                       kinds.empty() ? "none" : fmt::format("{}", fmt::join(kinds, ", "))));
    }
    c.kind = static_cast<ClaimKind>(std::find(kKinds.begin(), kKinds.end(), kinds[0]) -
                                    kKinds.begin());
    // The keys each kind takes besides its own.
    std::vector<std::string> allowed;
    switch (c.kind) {
      case ClaimKind::kBetter: allowed = {"than", "metric"}; break;
      case ClaimKind::kPeak: allowed = {"where", "at", "metric"}; break;
      case ClaimKind::kCollapses: allowed = {"below", "metric"}; break;
      case ClaimKind::kDiverges: break;
      case ClaimKind::kClose: allowed = {"to", "within", "metric"}; break;
    }
    for (const auto& kv : item) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : flow_text(kv.first);
      if (k == kinds[0]) continue;
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        fail(where_of(kv.first, file), "claims." + kinds[0],
             fmt::format("unknown key '{}'; allowed with {}: {}", k, kinds[0],
                         allowed.empty() ? "nothing else" : fmt::format("{}", fmt::join(allowed, ", "))));
      }
    }
    const YAML::Node own = item[kinds[0]];
    const std::string key = "claims." + kinds[0];
    if (c.kind == ClaimKind::kPeak) {
      if (!own.IsScalar()) fail(where_of(own, file), key, "expected a config key like loss.gamma");
      c.key = own.Scalar();
      TrialConfig scratch;
      try {
        get_value(scratch, c.key);
      } catch (const ConfigError& e) {
        fail(where_of(own, file), key, e.what());
      }
      if (item["where"]) c.subject = parse_filter(item["where"], file, key + ".where", true);
      if (item["at"]) {
        try {
          set_value(scratch, c.key, item["at"], Origin{file, item["at"].Mark().line + 1});
        } catch (const ConfigError& e) {
          throw ConfigError(fmt::format("{} (in {}.at)", e.what(), key));
        }
        c.at = get_value(scratch, c.key);
      }
    } else {
      c.subject = parse_filter(own, file, key, false);
    }
    if (c.kind == ClaimKind::kBetter) {
      if (!item["than"]) fail(where, key, "needs than: {the configuration it beats}");
      c.than = parse_filter(item["than"], file, key + ".than", false);
    }
    if (c.kind == ClaimKind::kClose) {
      if (!item["to"]) fail(where, key, "needs to: {the configuration it is close to}");
      c.than = parse_filter(item["to"], file, key + ".to", false);
    }
    if (item["within"]) {
      c.within = number_in(item["within"], file, key + ".within", 0, 100,
                           fmt::format("the largest difference in {} that counts as close, a "
                                       "number in (0, 100)",
                                       c.metric));
    }
    if (item["metric"]) {
      const auto m = item["metric"];
      const auto& ms = claim_metrics();
      if (!m.IsScalar() || std::find(ms.begin(), ms.end(), m.Scalar()) == ms.end()) {
        fail(where_of(m, file), key + ".metric",
             fmt::format("'{}': allowed {}", flow_text(m), fmt::join(ms, ", ")));
      }
      c.metric = m.Scalar();
    }
    if (item["below"]) {
      c.below = number_in(item["below"], file, key + ".below", 0, 1,
                          fmt::format("a fraction of the best configuration's {}, in (0, 1)",
                                      c.metric));
    }
    out.push_back(std::move(c));
  }
  return out;
}

void check_claims(const std::vector<Claim>& claims, const std::vector<TrialConfig>& configs) {
  for (const auto& c : claims) {
    const std::string name = "claims." + kind_name(c.kind);
    auto exactly_one = [&](const ConfigFilter& f, const std::string& what) {
      const auto n = distinct_matches(f, configs).size();
      if (n != 1) {
        throw ConfigError(fmt::format("{}: {}: {} selects {} configurations of the sweep (seeds "
                                      "aside); it must select one",
                                      c.origin, name + what, f.str(), n));
      }
    };
    if (c.kind != ClaimKind::kPeak) {
      exactly_one(c.subject, "");
      if (c.kind == ClaimKind::kBetter) exactly_one(c.than, ".than");
      if (c.kind == ClaimKind::kClose) exactly_one(c.than, ".to");
      continue;
    }
    // peak: a numeric key, one configuration per value, 3 values or more.
    std::set<std::string> values;
    const auto rows = distinct_matches(c.subject, configs);
    for (const auto* row : rows) {
      const auto v = get_value(*row, c.key);
      if (!std::holds_alternative<int64_t>(v) && !std::holds_alternative<double>(v)) {
        throw ConfigError(fmt::format("{}: {}: {} is not a number ('{}'); a peak is over a "
                                      "numeric key like loss.gamma",
                                      c.origin, name, c.key, format_value(v)));
      }
    }
    for (const auto* row : rows) {
      if (!values.insert(format_value(get_value(*row, c.key))).second) {
        throw ConfigError(fmt::format(
            "{}: {}: {} has several configurations with {} = {}; narrow `where` to one per value",
            c.origin, name, c.subject.str(), c.key, format_value(get_value(*row, c.key))));
      }
    }
    if (values.size() < 3) {
      throw ConfigError(fmt::format("{}: {}: {} takes {} value(s) among {}; a peak needs 3 or more",
                                    c.origin, name, c.key, values.size(), c.subject.str()));
    }
    if (c.at && !values.count(format_value(*c.at))) {
      throw ConfigError(fmt::format("{}: {}.at: {} = {} is not among the sweep's values ({})",
                                    c.origin, name, c.key, format_value(*c.at),
                                    fmt::join(values, ", ")));
    }
  }
}

}  // namespace config
}  // namespace focalab::harness
