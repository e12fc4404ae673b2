#include "reports/verdicts.h"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

#include "reports/stats.h"

namespace focalab::reports {

namespace {

using harness::Claim;
using harness::ClaimKind;

const std::map<int64_t, double>& values_of(const ClaimRow& row, const std::string& metric) {
  static const std::map<int64_t, double> kNone;
  const auto it = row.metric_by_seed.find(metric);
  return it == row.metric_by_seed.end() ? kNone : it->second;
}

double mean_of(const std::map<int64_t, double>& v) {
  double s = 0;
  for (const auto& kv : v) s += kv.second;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// "+2.5 [+0.8, +4.2] (paired, n 3)" or "+2.5 (no interval: 1 seed)".
std::string diff_text(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b,
                      const std::optional<DiffInterval>& ci) {
  if (!ci) {
    return fmt::format("{:+.1f} (no interval: {} and {} seed(s))", mean_of(a) - mean_of(b),
                       a.size(), b.size());
  }
  return fmt::format("{:+.1f} [{:+.1f}, {:+.1f}] ({}, n {})", ci->diff, ci->lo, ci->hi,
                     ci->method, ci->n);
}

double numeric(const harness::ConfigValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  return 0;
}

// Whether two rows were evaluated on the same images: the same data.* config.
bool same_data(const ClaimRow& a, const ClaimRow& b) {
  for (const auto& f : harness::config_fields()) {
    if (f.path.rfind("data.", 0) == 0 &&
        !(harness::get_value(a.config, f.path) == harness::get_value(b.config, f.path))) {
      return false;
    }
  }
  return true;
}

const std::vector<double>& bootstrap_of(const ClaimRow& row, const std::string& metric) {
  static const std::vector<double> kNone;
  const auto it = row.bootstrap.find(metric);
  return it == row.bootstrap.end() ? kNone : it->second;
}

}  // namespace

std::optional<DiffInterval> difference_interval(const ClaimRow& a, const ClaimRow& b,
                                                const std::string& metric) {
  auto ci = seed_interval(values_of(a, metric), values_of(b, metric));
  if (ci) return ci;
  const auto &ba = bootstrap_of(a, metric), &bb = bootstrap_of(b, metric);
  if (!ba.empty() && !bb.empty() && same_data(a, b)) {
    return bootstrap_interval(mean_of(values_of(a, metric)) - mean_of(values_of(b, metric)), ba, bb);
  }
  return std::nullopt;
}

namespace {

// The rows a filter selects.
std::vector<const ClaimRow*> select(const harness::ConfigFilter& f,
                                    const std::vector<ClaimRow>& rows) {
  std::vector<const ClaimRow*> out;
  for (const auto& r : rows) {
    if (f.matches(r.config)) out.push_back(&r);
  }
  return out;
}

// The one row `f` selects; nullptr (the reason in `v.evidence`) when it selects another number.
const ClaimRow* the_row(const harness::ConfigFilter& f, const std::vector<ClaimRow>& rows,
                        ClaimVerdict& v) {
  const auto a = select(f, rows);
  if (a.size() == 1) return a[0];
  v.evidence = fmt::format("the sweep has {} such configurations", a.size());
  return nullptr;
}

// A better / close claim's two configurations: "METRIC DIFF [LO, HI] (method, n)" and the
// interval of the difference; nullopt, the reason in v.evidence, when there is no pair.
std::optional<std::pair<std::string, std::optional<DiffInterval>>> pair_difference(
    const Claim& c, const std::vector<ClaimRow>& rows, ClaimVerdict& v) {
  const auto a = select(c.subject, rows), b = select(c.than, rows);
  if (a.size() != 1 || b.size() != 1) {
    v.evidence = fmt::format("the sweep has {} and {} such configurations", a.size(), b.size());
    return std::nullopt;
  }
  const auto &va = values_of(*a[0], c.metric), &vb = values_of(*b[0], c.metric);
  if (va.empty() || vb.empty()) {
    v.evidence = "no finished trial on one side";
    return std::nullopt;
  }
  const auto ci = difference_interval(*a[0], *b[0], c.metric);
  return std::make_pair(fmt::format("{} {}", c.metric, diff_text(va, vb, ci)), ci);
}

ClaimVerdict better(const Claim& c, const std::vector<ClaimRow>& rows) {
  ClaimVerdict v{c, Verdict::kInconclusive, ""};
  const auto d = pair_difference(c, rows, v);
  if (!d) return v;
  const auto& [text, ci] = *d;
  v.evidence = text;
  if (ci && ci->lo > 0) v.verdict = Verdict::kHolds;
  if (ci && ci->hi < 0) v.verdict = Verdict::kFails;
  return v;
}

// close: the difference's interval inside [-within, +within] holds, entirely outside it fails.
ClaimVerdict close(const Claim& c, const std::vector<ClaimRow>& rows) {
  ClaimVerdict v{c, Verdict::kInconclusive, ""};
  const auto d = pair_difference(c, rows, v);
  if (!d) return v;
  const auto& [text, ci] = *d;
  v.evidence = fmt::format("{}; close: within ±{:g}", text, c.within);
  if (ci && ci->lo >= -c.within && ci->hi <= c.within) v.verdict = Verdict::kHolds;
  if (ci && (ci->lo > c.within || ci->hi < -c.within)) v.verdict = Verdict::kFails;
  return v;
}

ClaimVerdict peak(const Claim& c, const std::vector<ClaimRow>& rows) {
  ClaimVerdict v{c, Verdict::kInconclusive, ""};
  auto sel = select(c.subject, rows);
  sel.erase(std::remove_if(sel.begin(), sel.end(),
                           [&](const ClaimRow* r) { return values_of(*r, c.metric).empty(); }),
            sel.end());
  if (sel.size() < 3) {
    v.evidence = fmt::format("{} configuration(s) with finished trials; a peak needs 3",
                             sel.size());
    return v;
  }
  std::sort(sel.begin(), sel.end(), [&](const ClaimRow* x, const ClaimRow* y) {
    return numeric(harness::get_value(x->config, c.key)) <
           numeric(harness::get_value(y->config, c.key));
  });
  size_t best = 0;
  for (size_t i = 1; i < sel.size(); ++i) {
    if (mean_of(values_of(*sel[i], c.metric)) > mean_of(values_of(*sel[best], c.metric))) best = i;
  }
  auto label = [&](const ClaimRow* r) {
    return fmt::format("{}={}", c.key, harness::format_value(harness::get_value(r->config, c.key)));
  };
  const auto& vb = values_of(*sel[best], c.metric);
  auto above = [&](size_t other) {  // the best row's interval against another row
    const auto& vo = values_of(*sel[other], c.metric);
    const auto ci = difference_interval(*sel[best], *sel[other], c.metric);
    return std::make_pair(ci, diff_text(vb, vo, ci));
  };
  std::vector<std::string> parts = {
      fmt::format("highest at {} ({} {:.1f})", label(sel[best]), c.metric, mean_of(vb))};
  const size_t last = sel.size() - 1;
  if (best != 0 && best != last) {
    const auto [lo_ci, lo_text] = above(0);
    const auto [hi_ci, hi_text] = above(last);
    parts.push_back(fmt::format("vs {}: {}", label(sel[0]), lo_text));
    parts.push_back(fmt::format("vs {}: {}", label(sel[last]), hi_text));
    const bool rises_and_falls = lo_ci && lo_ci->lo > 0 && hi_ci && hi_ci->lo > 0;
    if (rises_and_falls) v.verdict = Verdict::kHolds;
  } else {
    // At an end: monotone when it is significantly above every interior row.
    bool all_above = true;
    for (size_t i = 1; i < last; ++i) {
      const auto [ci, text] = above(i);
      parts.push_back(fmt::format("vs {}: {}", label(sel[i]), text));
      all_above = all_above && ci && ci->lo > 0;
    }
    if (all_above) v.verdict = Verdict::kFails;
  }
  if (c.at) {
    const std::string want = harness::format_value(*c.at);
    size_t at = sel.size();
    for (size_t i = 0; i < sel.size(); ++i) {
      if (harness::format_value(harness::get_value(sel[i]->config, c.key)) == want) at = i;
    }
    if (at == sel.size()) {
      parts.push_back(fmt::format("no finished trial at {}={}", c.key, want));
      if (v.verdict == Verdict::kHolds) v.verdict = Verdict::kInconclusive;
    } else if (at != best) {
      const auto [ci, text] = above(at);
      parts.push_back(fmt::format("vs {} (the claimed peak): {}", label(sel[at]), text));
      if (ci && ci->lo > 0) {
        v.verdict = Verdict::kFails;  // another value is significantly higher
      } else if (v.verdict == Verdict::kHolds) {
        v.verdict = Verdict::kInconclusive;  // a peak, but not shown to be at `at`
      }
    }
  }
  v.evidence = fmt::format("{}", fmt::join(parts, "; "));
  return v;
}

ClaimVerdict collapses(const Claim& c, const std::vector<ClaimRow>& rows) {
  ClaimVerdict v{c, Verdict::kInconclusive, ""};
  const ClaimRow* row = the_row(c.subject, rows, v);
  if (!row) return v;
  double best = 0;
  for (const auto& r : rows) {
    if (!values_of(r, c.metric).empty()) best = std::max(best, mean_of(values_of(r, c.metric)));
  }
  const auto& va = values_of(*row, c.metric);
  if (va.empty()) {
    v.evidence = row->diverged > 0
                     ? fmt::format("no finished trial ({} diverged): see `diverges`", row->diverged)
                     : "no finished trial";
    return v;
  }
  const double line = c.below * best;
  std::vector<double> values;
  for (const auto& kv : va) values.push_back(kv.second);
  auto ci = mean_interval(values);
  if (!ci) ci = bootstrap_interval(mean_of(va), bootstrap_of(*row, c.metric), {});
  if (!ci) {
    v.evidence = fmt::format("{} {:.1f} (no interval: 1 seed) vs {:g} x {:.1f} = {:.1f}", c.metric,
                             mean_of(va), c.below, best, line);
    return v;
  }
  v.evidence = fmt::format("{} {:.1f} [{:.1f}, {:.1f}] ({}, n {}) vs {:g} x the best {:.1f} = {:.1f}",
                           c.metric, ci->diff, ci->lo, ci->hi, ci->method, ci->n, c.below, best,
                           line);
  if (ci->hi < line) v.verdict = Verdict::kHolds;
  if (ci->lo > line) v.verdict = Verdict::kFails;
  return v;
}

ClaimVerdict diverges(const Claim& c, const std::vector<ClaimRow>& rows) {
  ClaimVerdict v{c, Verdict::kInconclusive, ""};
  const ClaimRow* row = the_row(c.subject, rows, v);
  if (!row) return v;
  const ClaimRow& r = *row;
  v.evidence = fmt::format("{} of {} trial(s) diverged, {} finished", r.diverged, r.trials, r.done);
  if (r.diverged > 0 && r.diverged == r.trials) v.verdict = Verdict::kHolds;
  if (r.diverged == 0 && r.done > 0 && r.done == r.trials) v.verdict = Verdict::kFails;
  return v;
}

}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kHolds: return "holds";
    case Verdict::kFails: return "fails";
    case Verdict::kInconclusive: return "inconclusive";
  }
  return "";
}

std::vector<ClaimVerdict> evaluate_claims(const std::vector<harness::Claim>& claims,
                                          const std::vector<ClaimRow>& rows) {
  std::vector<ClaimVerdict> out;
  for (const auto& c : claims) {
    switch (c.kind) {
      case ClaimKind::kBetter: out.push_back(better(c, rows)); break;
      case ClaimKind::kPeak: out.push_back(peak(c, rows)); break;
      case ClaimKind::kCollapses: out.push_back(collapses(c, rows)); break;
      case ClaimKind::kDiverges: out.push_back(diverges(c, rows)); break;
      case ClaimKind::kClose: out.push_back(close(c, rows)); break;
    }
  }
  return out;
}

}  // namespace focalab::reports
