#include "reports/report.h"

#include <fmt/format.h>

#include <cctype>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "harness/config/claims.h"
#include "harness/config/config.h"
#include "harness/config/reference.h"
#include "harness/store/sqlite.h"
#include "harness/util/errors.h"
#include "harness/util/paths.h"
#include "harness/util/json.h"
#include "reports/csv.h"
#include "reports/plots/chart.h"
#include "reports/plots/plot.h"
#include "reports/stats.h"
#include "reports/sweep_data.h"
#include "reports/verdicts.h"
#include "reports/web/html.h"

namespace focalab::reports {

using harness::Database;

namespace {

// Phases of training for the loss share: the first iteration alone (the prior initialization,
// before any learning; recorded as its own logging interval), then the first, second and last
// third of training by iteration.
constexpr size_t kNumPhases = 4;

struct TrialInfo : TrialData {
  const harness::ReferenceRow* paper = nullptr;  // matching row of the sweep's reference table
  // share of the classification loss: [phase: init, early, mid, late][positive, hard, easy]
  std::array<std::array<double, 3>, kNumPhases> loss_share{};
  std::array<bool, kNumPhases> has_share{};
};

std::vector<TrialData> data_trials(const std::vector<TrialInfo>& trials) {
  return {trials.begin(), trials.end()};
}

const char* const kPhases[kNumPhases] = {"init", "early", "mid", "late"};
const char* const kCategories[3] = {"positive", "hard_negative", "easy_negative"};


std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows,
                           size_t first_numeric) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (size_t i = 0; i < cells.size(); ++i) {
      s += i >= first_numeric ? fmt::format(" {:>{}} |", cells[i], w[i])
                              : fmt::format(" {:<{}} |", cells[i], w[i]);
    }
    return s + "\n";
  };
  std::string out = line(header);
  std::string rule = "|";
  for (size_t i = 0; i < header.size(); ++i) {
    rule += i >= first_numeric ? std::string(w[i] + 1, '-') + ":|" : std::string(w[i] + 2, '-') + "|";
  }
  out += rule + "\n";
  for (const auto& r : rows) out += line(r);
  return out;
}

// Inference milliseconds per image (evaluations.metric; Table 1(e)); the other metrics are APs
// in [0, 1], printed x100.
constexpr const char* kMsPerImage = "ms_per_image";

struct Stat {
  int64_t n = 0;
  double mean = 0, std = 0;  // x100 (ms as they are); std over seeds (sample, n - 1); 0 for one seed
  // One seed with bootstrap replicates: its 95% interval over the val images.
  std::optional<DiffInterval> boot;
};

// A trial's bootstrap replicates of `metric`, x100; empty unless every one is defined.
std::vector<double> bootstrap_of(const TrialData& t, const std::string& metric) {
  const auto it = t.bootstrap.find(metric);
  if (it == t.bootstrap.end()) return {};
  std::vector<double> v;
  for (double x : it->second) {
    if (x < 0) return {};
    v.push_back(100 * x);
  }
  return v;
}

// One row of the report: the trials of one configuration over seeds.
struct Group {
  std::vector<std::string> config;  // the varied keys' cells
  std::vector<const TrialInfo*> trials;
  const harness::ReferenceRow* paper = nullptr;

  // Over the done trials with a defined value (COCOeval's -1: none).
  Stat stat(const std::string& metric) const {
    std::vector<double> v;
    for (const auto* t : trials) {
      auto it = t->metrics.find(metric);
      if (t->status == "done" && it != t->metrics.end() && it->second >= 0) {
        v.push_back(metric == kMsPerImage ? it->second : 100 * it->second);
      }
    }
    Stat s;
    s.n = static_cast<int64_t>(v.size());
    if (v.empty()) return s;
    if (v.size() == 1 && metric != kMsPerImage) {
      for (const auto* t : trials) {
        if (t->status == "done") s.boot = bootstrap_interval(v[0], bootstrap_of(*t, metric), {});
      }
    }
    for (double x : v) s.mean += x;
    s.mean /= static_cast<double>(v.size());
    if (v.size() > 1) {
      double ss = 0;
      for (double x : v) ss += (x - s.mean) * (x - s.mean);
      s.std = std::sqrt(ss / static_cast<double>(v.size() - 1));
    }
    return s;
  }
  // The first done trial.
  const TrialData* done_trial() const {
    for (const auto* t : trials) {
      if (t->status == "done") return t;
    }
    return nullptr;
  }
  // `metric` x100 of the done trials with a defined value, by seed.
  std::map<int64_t, double> by_seed(const std::string& metric) const {
    std::map<int64_t, double> out;
    for (const auto* t : trials) {
      auto it = t->metrics.find(metric);
      if (t->status == "done" && it != t->metrics.end() && it->second >= 0) {
        out[t->seed] = 100 * it->second;
      }
    }
    return out;
  }
  // "done", or the statuses with counts: "2 done, 1 diverged@6".
  std::string status() const {
    std::map<std::string, int64_t> count;
    std::vector<std::string> order;
    for (const auto* t : trials) {
      if (!count.count(t->status)) order.push_back(t->status);
      ++count[t->status];
    }
    if (order.size() == 1 && order[0] == "done") return "done";
    std::string out;
    for (const auto& st : order) {
      std::string cell = st;
      if (st == "diverged") {
        std::vector<std::string> at;
        for (const auto* t : trials) {
          if (t->status == "diverged" && t->diverged_at) at.push_back(std::to_string(*t->diverged_at));
        }
        if (!at.empty()) cell += fmt::format("@{}", fmt::join(at, "/"));
      }
      out += fmt::format("{}{}{}", out.empty() ? "" : ", ",
                         trials.size() > 1 ? fmt::format("{} ", count[st]) : "", cell);
    }
    return out;
  }
  // Mean share per phase and category over the trials that have one; has[phase].
  std::array<std::array<double, 3>, kNumPhases> share(std::array<bool, kNumPhases>& has) const {
    std::array<std::array<double, 3>, kNumPhases> out{};
    for (size_t p = 0; p < kNumPhases; ++p) {
      int n = 0;
      for (const auto* t : trials) {
        if (!t->has_share[p]) continue;
        ++n;
        for (size_t c = 0; c < 3; ++c) out[p][c] += t->loss_share[p][c];
      }
      has[p] = n > 0;
      for (size_t c = 0; c < 3 && n > 0; ++c) out[p][c] /= n;
    }
    return out;
  }
};

// A row's AP against the baseline row's.
struct Comparison {
  std::optional<double> diff;          // mean AP minus the baseline's mean AP
  std::optional<DiffInterval> ci;      // 95%, paired or Welch; none under 2 seeds a side
};

struct Report {
  std::string sweep, db_path;
  int baseline = -1;                   // the group compared against; -1: no comparison
  std::string baseline_filter;
  std::vector<Comparison> vs_base;     // per group
  std::vector<ClaimVerdict> verdicts;  // the sweep's claims
  std::string claims_note;             // why its claims were not evaluated
  int64_t trials = 0, done = 0;
  std::vector<std::string> varied;
  std::vector<std::string> metrics;
  std::vector<Group> groups;
  int best = -1;  // the group with the highest mean AP
  bool with_paper = false;
  std::vector<std::string> notes;
  std::string reference_note;
};

std::string stat_text(const Stat& s, const char* pm, bool with_boot = false) {
  if (s.n == 0) return "–";
  if (s.n == 1 && with_boot && s.boot) {
    return fmt::format("{:.1f} [{:.1f}, {:.1f}]", s.mean, s.boot->lo, s.boot->hi);
  }
  if (s.n == 1) return fmt::format("{:.1f}", s.mean);
  return fmt::format("{:.1f}{}{:.1f}", s.mean, pm, s.std);
}

std::string paper_text(const Group& g, const std::string& m) {
  return g.paper && g.paper->metrics.count(m) ? fmt::format("{:.1f}", g.paper->metrics.at(m))
                                              : "–";
}

std::optional<double> delta_ap(const Group& g) {
  const Stat ap = g.stat("AP");
  if (!g.paper || !g.paper->metrics.count("AP") || ap.n == 0) return std::nullopt;
  return ap.mean - g.paper->metrics.at("AP");
}

// "+2.5 [+0.8, +4.2]*" ("*": the interval excludes 0), "+2.5" without an interval, "baseline".
std::string comparison_text(const Report& r, size_t gi) {
  if (static_cast<int>(gi) == r.baseline) return "baseline";
  const Comparison& c = r.vs_base[gi];
  if (!c.diff) return "–";
  if (!c.ci) return fmt::format("{:+.1f}", *c.diff);
  return fmt::format("{:+.1f} [{:+.1f}, {:+.1f}]{}", c.ci->diff, c.ci->lo, c.ci->hi,
                     c.ci->significant() ? "*" : "");
}

std::string comparison_note(const Report& r) {
  if (r.baseline < 0) return {};
  std::vector<std::string> methods;  // in row order, each once
  for (const auto& c : r.vs_base) {
    if (!c.ci) continue;
    const std::string m =
        c.ci->method == "paired"    ? fmt::format("paired t over the {} seeds both ran", c.ci->n)
        : c.ci->method == "welch"   ? std::string("Welch's t where the seeds differ")
                                    : std::string("one seed each: the paired bootstrap over the "
                                                  "val images");
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
  }
  return fmt::format(
      "vs baseline: mean AP minus the baseline's ({}), with its 95% confidence interval{}; * the "
      "interval excludes 0; no interval under 2 seeds a side unless both have bootstrap "
      "replicates on the same images.",
      r.baseline_filter, methods.empty() ? "" : fmt::format(" ({})", fmt::join(methods, "; ")));
}

std::vector<std::string> main_header(const Report& r) {
  std::vector<std::string> h = r.varied;
  h.push_back("status");
  h.push_back("n");
  for (const auto& m : r.metrics) h.push_back(m);
  if (r.baseline >= 0) h.push_back("vs baseline");
  if (r.with_paper) {
    for (const char* m : {"paper AP", "paper AP50", "paper AP75", "ΔAP"}) h.push_back(m);
  }
  return h;
}

// The cells of a main-table row; `pm` is the format's plus-minus.
std::vector<std::string> main_row(const Report& r, size_t gi, const char* pm) {
  const Group& g = r.groups[gi];
  std::vector<std::string> row = g.config;
  row.push_back(g.status());
  row.push_back(std::to_string(g.trials.size()));
  for (const auto& m : r.metrics) row.push_back(stat_text(g.stat(m), pm, m == "AP"));
  if (r.baseline >= 0) row.push_back(comparison_text(r, gi));
  if (r.with_paper) {
    for (const char* m : {"AP", "AP50", "AP75"}) row.push_back(paper_text(g, m));
    const auto d = delta_ap(g);
    row.push_back(d ? fmt::format("{:+.1f}", *d) : "–");
  }
  return row;
}

// The loss-share table's header and rows (percentages), empty when no trial has a breakdown.
std::pair<std::vector<std::string>, std::vector<std::vector<std::string>>> share_table(
    const Report& r) {
  std::vector<std::string> h = r.varied;
  for (const char* p : kPhases) {
    for (const char* c : {"pos", "hard", "easy"}) {
      h.push_back(fmt::format("{}{} {}", std::string(p) == "init" ? "at " : "", p, c));
    }
  }
  std::vector<std::vector<std::string>> rows;
  bool any = false;
  for (const auto& g : r.groups) {
    std::array<bool, kNumPhases> has{};
    const auto s = g.share(has);
    std::vector<std::string> row = g.config;
    for (size_t p = 0; p < kNumPhases; ++p) {
      any = any || has[p];
      for (size_t c = 0; c < 3; ++c) {
        row.push_back(has[p] ? fmt::format("{:.1f}%", 100 * s[p][c]) : "–");
      }
    }
    rows.push_back(std::move(row));
  }
  if (!any) rows.clear();
  return {h, rows};
}

constexpr const char* kShareNote =
    "At init: the first iteration alone (the prior initialization, before any learning). "
    "Early / mid / late: the first, second and last third of training (by iteration). Hard "
    "negative: background element with p >= loss.hard_score (default 0.05, the inference "
    "threshold).";

constexpr const char* kClaimsNote =
    "Verdicts from 95% confidence intervals over the seeds (one seed a side: the paired bootstrap "
    "over the val images, where both have it): holds or fails when the interval clears the "
    "claim's line, inconclusive when it straddles it or there is none (see `focalab report "
    "--help`).";

// claim | verdict | evidence; the verdict in bold for Markdown.
std::vector<std::vector<std::string>> claim_rows(const Report& r, bool bold) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r.verdicts) {
    const std::string verdict = verdict_name(v.verdict);
    rows.push_back({v.claim.text(), bold ? "**" + verdict + "**" : verdict, v.evidence});
  }
  return rows;
}

constexpr const char* kBootstrapNote =
    "AP [lo, hi]: for a configuration with one seed, the 95% bootstrap interval over the val "
    "images (AP +- 1.96 x the standard deviation of 200 resamples with replacement, the same "
    "resamples for every trial); it measures the image sample, not the seed-to-seed spread.";

bool any_bootstrap(const Report& r) {
  return std::any_of(r.groups.begin(), r.groups.end(),
                     [](const Group& g) { return g.stat("AP").boot.has_value(); });
}

std::string render_markdown(const Report& r) {
  std::string out = fmt::format("## Sweep `{}` — {} trials, {} done ({})\n\n", r.sweep, r.trials,
                                r.done, r.db_path);
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < r.groups.size(); ++i) {
    auto row = main_row(r, i, " ± ");
    if (static_cast<int>(i) == r.best) row[r.varied.size() + 2] = "**" + row[r.varied.size() + 2] + "**";
    rows.push_back(std::move(row));
  }
  out += markdown_table(main_header(r), rows, r.varied.size() + 1);
  out += "\nCOCO-style box AP x100 on the val split (IoU .50:.95, .50, .75): mean ± std over the n "
         "seeds of a configuration (its done trials); the best AP in bold.";
  if (r.with_paper) out += " ΔAP: measured minus paper.";
  out += "\n";
  if (any_bootstrap(r)) out += std::string(kBootstrapNote) + "\n";
  if (r.baseline >= 0) out += comparison_note(r) + "\n";
  for (const auto& n : r.notes) out += n + "\n";
  if (r.with_paper) {
    out += "The paper's numbers are COCO with ResNet-50/101: compare trends, not values, when the "
           "data or model differ.\n";
  }
  out += r.reference_note;
  const auto [h, share_rows] = share_table(r);
  if (!share_rows.empty()) {
    out += "\n### Share of the classification loss: positives, hard and easy negatives\n\n";
    out += markdown_table(h, share_rows, r.varied.size());
    out += fmt::format("\n{}\n", kShareNote);
  }
  if (!r.verdicts.empty()) {
    out += "\n### Claims\n\n";
    out += markdown_table({"claim", "verdict", "evidence"}, claim_rows(r, true), 3);
    out += fmt::format("\n{}\n", kClaimsNote);
  }
  out += r.claims_note;
  return out;
}

std::string csv_number(double v, bool ok) { return ok ? fmt::format("{:.4f}", v) : ""; }

std::string render_csv(const Report& r) {
  std::vector<std::string> h = r.varied;
  h.push_back("n");
  h.push_back("status");
  for (const auto& m : r.metrics) {
    for (const char* s : {"_mean", "_std", "_n"}) h.push_back(m + s);
  }
  if (r.baseline >= 0) {
    for (const char* c : {"baseline", "vs_baseline_AP", "vs_baseline_lo", "vs_baseline_hi",
                          "vs_baseline_method", "vs_baseline_df", "vs_baseline_significant"}) {
      h.push_back(c);
    }
  }
  if (r.with_paper) {
    for (const char* c : {"paper_AP", "paper_AP50", "paper_AP75", "delta_AP"}) h.push_back(c);
  }
  for (const char* p : kPhases) {
    for (const char* c : kCategories) h.push_back(fmt::format("share_{}_{}", p, c));
  }
  h.push_back("best");
  std::string out;
  for (size_t i = 0; i < h.size(); ++i) out += (i ? "," : "") + csv_cell(h[i]);
  out += "\n";
  for (size_t gi = 0; gi < r.groups.size(); ++gi) {
    const Group& g = r.groups[gi];
    std::vector<std::string> row = g.config;
    row.push_back(std::to_string(g.trials.size()));
    row.push_back(g.status());
    for (const auto& m : r.metrics) {
      const Stat s = g.stat(m);
      row.push_back(csv_number(s.mean, s.n > 0));
      row.push_back(csv_number(s.std, s.n > 1));
      row.push_back(std::to_string(s.n));
    }
    if (r.baseline >= 0) {
      const Comparison& c = r.vs_base[gi];
      row.push_back(static_cast<int>(gi) == r.baseline ? "1" : "0");
      row.push_back(csv_number(c.diff.value_or(0), c.diff.has_value()));
      row.push_back(csv_number(c.ci ? c.ci->lo : 0, c.ci.has_value()));
      row.push_back(csv_number(c.ci ? c.ci->hi : 0, c.ci.has_value()));
      row.push_back(c.ci ? c.ci->method : "");
      row.push_back(csv_number(c.ci ? c.ci->df : 0, c.ci.has_value()));
      row.push_back(c.ci ? (c.ci->significant() ? "1" : "0") : "");
    }
    if (r.with_paper) {
      for (const char* m : {"AP", "AP50", "AP75"}) {
        const bool ok = g.paper && g.paper->metrics.count(m);
        row.push_back(csv_number(ok ? g.paper->metrics.at(m) : 0, ok));
      }
      const auto d = delta_ap(g);
      row.push_back(csv_number(d.value_or(0), d.has_value()));
    }
    std::array<bool, kNumPhases> has{};
    const auto sh = g.share(has);
    for (size_t p = 0; p < kNumPhases; ++p) {
      for (size_t c = 0; c < 3; ++c) row.push_back(csv_number(sh[p][c], has[p]));
    }
    row.push_back(static_cast<int>(gi) == r.best ? "1" : "0");
    for (size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + csv_cell(row[i]);
    out += "\n";
  }
  return out;
}

std::string render_json(const Report& r) {
  using harness::Json;
  using harness::json_number;
  using harness::json_number_or_null;
  Json rows = Json::array();
  for (size_t gi = 0; gi < r.groups.size(); ++gi) {
    const Group& g = r.groups[gi];
    Json row = Json::object();
    Json& config = row["config"] = Json::object();
    for (size_t k = 0; k < r.varied.size(); ++k) config[r.varied[k]] = g.config[k];
    row["n"] = g.trials.size();
    row["status"] = g.status();
    Json& trials = row["trials"] = Json::array();
    for (const auto* t : g.trials) {
      trials.push_back({{"key", t->key}, {"seed", t->seed}, {"status", t->status}});
    }
    Json& metrics = row["metrics"] = Json::object();
    for (const auto& name : r.metrics) {
      const Stat s = g.stat(name);
      Json m = {{"mean", json_number_or_null(s.mean, s.n > 0)},
                {"std", json_number_or_null(s.std, s.n > 1)},
                {"n", s.n}};
      if (s.boot) {
        m["bootstrap_lo"] = json_number(s.boot->lo);
        m["bootstrap_hi"] = json_number(s.boot->hi);
      }
      metrics[name] = std::move(m);
    }
    if (r.baseline >= 0) {
      const Comparison& c = r.vs_base[gi];
      Json& vs = row["vs_baseline"];
      if (static_cast<int>(gi) == r.baseline) {
        vs = "baseline";
      } else if (c.diff) {
        vs = {{"delta_AP", json_number(*c.diff)}};
        if (c.ci) {
          vs["lo"] = json_number(c.ci->lo);
          vs["hi"] = json_number(c.ci->hi);
          vs["level"] = 0.95;
          vs["method"] = c.ci->method;
          vs["n"] = c.ci->n;
          vs["df"] = json_number(c.ci->df);
          vs["significant"] = c.ci->significant();
        }
      }  // else null: no difference to show
    }
    if (r.with_paper) {
      Json& paper = row["paper"];
      if (g.paper) {
        paper = Json::object();
        for (const auto& [m, v] : g.paper->metrics) paper[m] = json_number(v);
      }
      const auto d = delta_ap(g);
      row["delta_AP"] = json_number_or_null(d.value_or(0), g.paper && d.has_value());
    }
    std::array<bool, kNumPhases> has{};
    const auto sh = g.share(has);
    Json& share = row["loss_share"] = Json::object();
    for (size_t p = 0; p < kNumPhases; ++p) {
      share[kPhases[p]] = has[p] ? Json{{"positive", json_number(sh[p][0])},
                                        {"hard_negative", json_number(sh[p][1])},
                                        {"easy_negative", json_number(sh[p][2])}}
                                 : Json(nullptr);
    }
    row["best"] = static_cast<int>(gi) == r.best;
    rows.push_back(std::move(row));
  }
  Json claims = Json::array();
  for (const auto& v : r.verdicts) {
    claims.push_back({{"claim", v.claim.text()},
                      {"origin", v.claim.origin},
                      {"verdict", verdict_name(v.verdict)},
                      {"evidence", v.evidence}});
  }
  return harness::pretty_json({{"sweep", r.sweep},
                               {"db", r.db_path},
                               {"trials", r.trials},
                               {"done", r.done},
                               {"rows", std::move(rows)},
                               {"claims", std::move(claims)}});
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (s.compare(i, 3, "–") == 0) {  // not applicable
      out += "--";
      i += 2;
      continue;
    }
    if (s.compare(i, 2, "Δ") == 0) {
      out += "$\\Delta$";
      i += 1;
      continue;
    }
    switch (c) {
      case '_': out += "\\_"; break;
      case '&': out += "\\&"; break;
      case '%': out += "\\%"; break;
      case '#': out += "\\#"; break;
      case '$': out += "\\$"; break;
      case '{': out += "\\{"; break;
      case '}': out += "\\}"; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      default: out += c;
    }
  }
  return out;
}

// The kinds of `focalab plot` a report draws for its sweep (those it has the trials for).
constexpr const char* kFigureKinds[] = {"ap-vs-gamma", "ap-vs-alpha", "loss-share", "loss-curves",
                                        "loss-cdf"};

// A name that \label and \includegraphics take as it is: other characters become '-'.
std::string latex_name(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != ':') c = '-';
  }
  return out;
}

// draw(options) for each kind of kFigureKinds, the options naming the database, the sweep and
// the kind; the outputs joined. A kind the sweep lacks the trials for (UsageError) is left out.
template <class Draw>
std::string each_figure(const std::string& db_path, const std::string& sweep, Draw&& draw) {
  std::string out;
  for (const char* kind : kFigureKinds) {
    PlotOptions po;
    po.db_path = db_path;
    po.sweep = sweep;
    po.kind = kind;
    try {
      out += draw(po);
    } catch (const harness::UsageError&) {
    }
  }
  return out;
}

// The sweep's figures as PDF files in `dir` (SWEEP-KIND.pdf), each in a figure environment.
std::string latex_figures(const std::string& db_path, const std::string& sweep,
                          const std::string& dir) {
  harness::require_output_dir(dir, "--figures");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw harness::DataError(fmt::format("--figures {}: cannot create ({})", dir, ec.message()));
  }
  return each_figure(db_path, sweep, [&](PlotOptions& po) {
    const std::string name = fmt::format("{}-{}", latex_name(sweep), po.kind);
    po.out = (std::filesystem::path(dir) / (name + ".pdf")).string();
    make_plot(po);
    return fmt::format("\\begin{{figure}}[t]\n\\centering\n\\includegraphics[width=\\linewidth]"
                       "{{{}}}\n\\caption{{\\texttt{{focalab plot --sweep {} --kind {}}}}}\n"
                       "\\label{{fig:{}}}\n\\end{{figure}}\n",
                       po.out, latex_escape(sweep), po.kind, name);
  });
}

std::string render_latex(const Report& r, const ReportOptions& options) {
  const size_t nv = r.varied.size(), nm = r.metrics.size();
  const size_t nb = r.baseline >= 0 ? 1 : 0;
  std::string cols = std::string(nv, 'l') + "lr" + std::string(nm + nb, 'r') +
                     (r.with_paper ? std::string(4, 'r') : std::string());
  std::string out = "% focalab report; needs \\usepackage{booktabs} and \\usepackage{graphicx}\n";
  out += "\\begin{table}[t]\n\\centering\n\\small\n";
  // shrunk to the line width when wider (mean ± std over many columns), never enlarged
  out += "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n";
  out += fmt::format("\\begin{{tabular}}{{{}}}\n\\toprule\n", cols);
  if (r.with_paper) {
    const size_t first = nv + 3;  // 1-based column of the first measured metric
    out += fmt::format("\\multicolumn{{{}}}{{l}}{{}} & \\multicolumn{{{}}}{{c}}{{measured}} & "
                       "\\multicolumn{{4}}{{c}}{{paper}} \\\\\n",
                       nv + 2, nm + nb);
    out += fmt::format("\\cmidrule(lr){{{}-{}}} \\cmidrule(lr){{{}-{}}}\n", first,
                       first + nm + nb - 1, first + nm + nb, first + nm + nb + 3);
  }
  std::vector<std::string> h = r.varied;
  h.push_back("status");
  h.push_back("$n$");
  for (const auto& m : r.metrics) h.push_back(m);
  if (r.baseline >= 0) h.push_back("vs baseline");
  if (r.with_paper) {
    for (const char* m : {"AP", "AP50", "AP75", "ΔAP"}) h.push_back(m);
  }
  for (size_t i = 0; i < h.size(); ++i) {
    out += (i ? " & " : "") + (h[i] == "$n$" ? h[i] : latex_escape(h[i]));
  }
  out += " \\\\\n\\midrule\n";
  for (size_t gi = 0; gi < r.groups.size(); ++gi) {
    const auto row = main_row(r, gi, " \\pm ");
    for (size_t i = 0; i < row.size(); ++i) {
      std::string cell = row[i].find("\\pm") != std::string::npos ? "$" + row[i] + "$"
                                                                   : latex_escape(row[i]);
      if (static_cast<int>(gi) == r.best && i == nv + 2) cell = "\\textbf{" + cell + "}";
      out += (i ? " & " : "") + cell;
    }
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}%\n}\n";
  out += fmt::format(
      "\\caption{{Sweep \\texttt{{{}}}: COCO-style box AP ($\\times 100$) on the val split, mean "
      "$\\pm$ std over the $n$ seeds of each configuration; the best AP in bold.{}}}\n",
      latex_escape(r.sweep),
      (r.baseline >= 0 ? " " + latex_escape(comparison_note(r)) : std::string()) +
      (r.with_paper ? " Paper: Lin et al., Focal Loss for Dense Object Detection, ICCV 2017; "
                     "$\\Delta$AP: measured minus paper."
                   : ""));
  out += fmt::format("\\label{{tab:{}}}\n\\end{{table}}\n", latex_name(r.sweep));
  if (!options.figures_dir.empty()) out += latex_figures(r.db_path, r.sweep, options.figures_dir);
  return out;
}

std::string html_table(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows, size_t first_numeric,
                       int bold_row, size_t bold_col) {
  std::string out = "<table>\n<thead><tr>";
  for (const auto& h : header) out += "<th>" + xml_escape(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    out += "<tr>";
    for (size_t i = 0; i < rows[ri].size(); ++i) {
      std::string cell = xml_escape(rows[ri][i]);
      if (static_cast<int>(ri) == bold_row && i == bold_col) cell = "<b>" + cell + "</b>";
      out += i >= first_numeric ? "<td class=\"num\">" + cell + "</td>" : "<td>" + cell + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

// The sweep's figures as inline SVG: every kind of `focalab plot` the sweep has the trials for
// (a kind it lacks them for is left out).
std::string html_figures(const std::string& db_path, const std::string& sweep) {
  const std::string out = each_figure(db_path, sweep, [&](PlotOptions& po) {
    return fmt::format("<figure id=\"plot-{}\">\n{}<figcaption>focalab plot --sweep {} --kind "
                       "{}</figcaption></figure>\n",
                       po.kind, plot_svg(po), xml_escape(sweep), po.kind);
  });
  return out.empty() ? out : "<h3>Plots</h3>\n" + out;
}

std::string render_html(const Report& r, const ReportOptions& options) {
  std::string out = fmt::format("<h2>Sweep <code>{}</code> — {} trials, {} done ({})</h2>\n",
                                xml_escape(r.sweep), r.trials, r.done, xml_escape(r.db_path));
  std::vector<std::vector<std::string>> rows;
  for (size_t gi = 0; gi < r.groups.size(); ++gi) rows.push_back(main_row(r, gi, " ± "));
  out += "<div id=\"comparison\">\n" +
         html_table(main_header(r), rows, r.varied.size() + 1, r.best, r.varied.size() + 2) +
         "</div>\n";
  out += "<p>COCO-style box AP x100 on the val split: mean ± std over the n seeds of a "
         "configuration; the best AP in bold.</p>\n";
  if (any_bootstrap(r)) out += "<p>" + xml_escape(kBootstrapNote) + "</p>\n";
  if (r.baseline >= 0) out += "<p>" + xml_escape(comparison_note(r)) + "</p>\n";
  for (const auto& n : r.notes) out += "<p>" + xml_escape(n) + "</p>\n";
  const auto [h, share_rows] = share_table(r);
  if (!share_rows.empty()) {
    out += "<h3>Share of the classification loss: positives, hard and easy negatives</h3>\n";
    out += "<div id=\"loss-share\">\n" + html_table(h, share_rows, r.varied.size(), -1, 0) +
           "</div>\n";
    out += "<p>" + xml_escape(kShareNote) + "</p>\n";
  }
  if (!r.verdicts.empty()) {
    out += "<h3>Claims</h3>\n";
    out += "<div id=\"claims\">\n" +
           html_table({"claim", "verdict", "evidence"}, claim_rows(r, false), 3, -1, 0) +
           "</div>\n";
    out += "<p>" + xml_escape(kClaimsNote) + "</p>\n";
  }
  if (!r.claims_note.empty()) out += "<p>" + xml_escape(r.claims_note) + "</p>\n";
  if (options.plots) out += html_figures(r.db_path, r.sweep);
  if (options.fragment) return out;
  return html_page("focalab sweep " + r.sweep, out);
}

// The group `filter` (key=value[,key=value...]) selects: exactly one, else UsageError.
int select_baseline(const std::string& filter, const std::vector<Group>& groups,
                    const std::vector<std::string>& varied, const std::string& sweep) {
  // Parsed and checked as a claim's filter is (keys and values by the field table), and matched
  // against each configuration as the claims and `plot --kind delta-vs-imbalance` match them.
  const harness::ConfigFilter want = harness::parse_filter_text(filter, "--baseline");
  // What the rows have, for the message: the varied keys and their values.
  std::vector<std::string> rows_have;
  for (const auto& k : varied) {
    std::vector<std::string> values;
    for (const auto& g : groups) {
      const std::string v = config_cell(*g.trials.front(), k);
      if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
    }
    rows_have.push_back(fmt::format("{}: {}", k, fmt::join(values, " | ")));
  }
  const std::string have = rows_have.empty() ? "one configuration"
                                             : fmt::format("{}", fmt::join(rows_have, "; "));
  std::vector<int> match;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (want.matches(harness::config_from_json(groups[i].trials.front()->config_json))) {
      match.push_back(static_cast<int>(i));
    }
  }
  if (match.size() != 1) {
    throw harness::UsageError(
        fmt::format("--baseline '{}': selects {} configurations of sweep {}; it must "
                    "select one ({})",
                    filter, match.size(), sweep, have));
  }
  return match.front();
}

// Each group as the claims see it: its config, its metrics by seed and, with one done trial, that
// trial's bootstrap replicates.
std::vector<ClaimRow> claim_rows(const std::vector<Group>& groups) {
  std::vector<ClaimRow> rows;
  for (const auto& g : groups) {
    ClaimRow row;
    row.config = harness::config_from_json(g.trials.front()->config_json);
    for (const auto* t : g.trials) {
      ++row.trials;
      row.done += t->status == "done";
      row.diverged += t->status == "diverged";
    }
    for (const auto& m : harness::claim_metrics()) row.metric_by_seed[m] = g.by_seed(m);
    if (row.done == 1) {
      for (const char* m : {"AP", "AP50", "AP75"}) {
        row.bootstrap[m] = bootstrap_of(*g.done_trial(), m);
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// Every group's AP against the baseline group's (difference_interval: the claims' arithmetic).
std::vector<Comparison> compare_to(const std::vector<ClaimRow>& rows, int baseline) {
  std::vector<Comparison> out(rows.size());
  const auto& base = rows[static_cast<size_t>(baseline)];
  const auto& base_ap = base.metric_by_seed.at("AP");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (static_cast<int>(i) == baseline) continue;
    const auto& mine = rows[i].metric_by_seed.at("AP");
    if (mine.empty() || base_ap.empty()) continue;
    auto mean = [](const std::map<int64_t, double>& v) {
      double s = 0;
      for (const auto& kv : v) s += kv.second;
      return s / static_cast<double>(v.size());
    };
    out[i].diff = mean(mine) - mean(base_ap);
    out[i].ci = difference_interval(rows[i], base, "AP");
  }
  return out;
}

}  // namespace

std::string render_report(const ReportOptions& options, int64_t* failed_claims) {
  require_results_db(options.db_path);
  Database db(options.db_path, Database::Mode::kReadOnly);
  SweepData data = load_sweep_data(db, options.db_path, options.sweep);
  const std::string& sweep_name = data.name;
  const std::string& reference = data.reference;
  std::vector<TrialInfo> trials;
  for (auto& td : data.trials) {
    TrialInfo t;
    static_cast<TrialData&>(t) = std::move(td);
    trials.push_back(std::move(t));
  }
  // Loss share at init (the interval of iteration 1 alone) and per third of training (by
  // iteration: early, mid, late), all classes. Databases written before iteration 1 was its own
  // interval have no row at iteration 1: their "at init" stays empty.
  auto share = db.prepare(
      "SELECT CASE WHEN iteration = 1 THEN 0 WHEN 3 * iteration <= m THEN 1 "
      "WHEN 3 * iteration <= 2 * m THEN 2 ELSE 3 END "
      "AS phase, category, sum(loss_sum) FROM loss_breakdown, "
      "(SELECT max(iteration) AS m FROM loss_breakdown WHERE trial_id = ?1) "
      "WHERE trial_id = ?1 AND class_id = -1 GROUP BY phase, category");
  for (auto& t : trials) {
    share.bind(1, t.id);
    std::array<std::map<std::string, double>, kNumPhases> by;
    while (share.step()) {
      by[static_cast<size_t>(share.get_int(0))][share.get_text(1)] =
          share.is_null(2) ? 0 : share.get_double(2);
    }
    share.reset();
    for (size_t p = 0; p < kNumPhases; ++p) {
      double total = 0;
      for (const auto& kv : by[p]) total += kv.second;
      if (total > 0) {
        t.has_share[p] = true;
        for (size_t c = 0; c < 3; ++c) t.loss_share[p][c] = by[p][kCategories[c]] / total;
      }
    }
  }

  // The paper's numbers beside matching trials (the first table with a matching row wins).
  std::vector<const harness::ReferenceTable*> tables;
  std::string reference_note;
  try {
    std::stringstream ids(reference);
    std::string id;
    while (std::getline(ids, id, ',')) {
      if (!id.empty()) tables.push_back(&harness::find_reference(id));
    }
    for (auto& t : trials) {
      try {
        const auto config = harness::config_from_json(t.config_json);
        for (const auto* table : tables) {
          if ((t.paper = harness::match_reference(*table, config))) break;
        }
      } catch (const harness::ConfigError&) {
        t.paper = nullptr;  // a config this focalab cannot read: no paper numbers for it
      }
    }
  } catch (const harness::ConfigError& e) {
    reference_note = fmt::format("\nReference not shown: {}\n", e.what());
    tables.clear();
  }
  const bool with_paper = !tables.empty();

  const std::vector<std::string> varied = varied_config_keys(data_trials(trials));

  Report r;
  // One row per distinct configuration: its trials over seeds, in sweep order.
  for (const auto& t : trials) {
    std::vector<std::string> cells;
    for (const auto& k : varied) cells.push_back(config_cell(t, k));
    auto g = std::find_if(r.groups.begin(), r.groups.end(),
                          [&](const Group& x) { return x.config == cells; });
    if (g == r.groups.end()) {
      r.groups.push_back(Group{cells, {}, t.paper});
      g = r.groups.end() - 1;
    }
    g->trials.push_back(&t);
    r.done += t.status == "done";
  }
  r.metrics = options.all_metrics
                  ? std::vector<std::string>{"AP", "AP50", "AP75", "APs", "APm", "APl"}
                  : std::vector<std::string>{"AP", "AP50", "AP75"};
  if (options.all_metrics &&
      std::any_of(trials.begin(), trials.end(), [](const auto& t) {
        return t.status == "done" && t.metrics.count(kMsPerImage);
      })) {
    r.metrics.push_back(kMsPerImage);
  }
  for (size_t i = 0; i < r.groups.size(); ++i) {
    const Stat ap = r.groups[i].stat("AP");
    if (ap.n > 0 && (r.best < 0 || ap.mean > r.groups[static_cast<size_t>(r.best)].stat("AP").mean)) {
      r.best = static_cast<int>(i);
    }
  }
  if (!options.baseline.empty()) {
    r.baseline = select_baseline(options.baseline, r.groups, varied, sweep_name);
    r.baseline_filter = options.baseline;
    r.vs_base = compare_to(claim_rows(r.groups), r.baseline);
  }
  if (!data.claims.empty()) {
    try {
      const auto claims = harness::parse_claims(
          YAML::Load(data.claims), fmt::format("{} (sweep {})", options.db_path, sweep_name));
      r.verdicts = evaluate_claims(claims, claim_rows(r.groups));
    } catch (const std::exception& e) {  // claims or configs of another focalab version
      r.claims_note = fmt::format("\nClaims not evaluated: {}\n", e.what());
    }
  }
  if (failed_claims) {
    *failed_claims = std::count_if(r.verdicts.begin(), r.verdicts.end(), [](const auto& v) {
      return v.verdict == Verdict::kFails;
    });
  }
  r.sweep = sweep_name;
  r.db_path = options.db_path;
  r.trials = static_cast<int64_t>(trials.size());
  r.varied = varied;
  r.with_paper = with_paper;
  for (const auto* table : tables) {
    r.notes.push_back(fmt::format("Paper: {} — {}.", table->caption, table->citation));
  }
  r.reference_note = reference_note;
  const std::string& f = options.format;
  if (f == "md") return render_markdown(r);
  if (f == "csv") return render_csv(r);
  if (f == "json") return render_json(r);
  if (f == "latex") return render_latex(r, options);
  if (f == "html") return render_html(r, options);
  throw harness::UsageError(fmt::format("--format '{}': allowed md, csv, latex, json, html", f));
}

}  // namespace focalab::reports
