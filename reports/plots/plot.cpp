#include "reports/plots/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <variant>

#include "harness/config/claims.h"
#include "harness/config/reference.h"
#include "harness/store/sqlite.h"
#include "harness/util/errors.h"
#include "reports/plots/chart.h"
#include "reports/stats.h"
#include "reports/sweep_data.h"

namespace focalab::reports {
inline namespace plots {

namespace {

using harness::Database;

double as_double(const std::string& text) {
  try {
    return std::stod(text);
  } catch (...) {
    return std::nan("");
  }
}

// A trial's label in legends: its varied config values, and the seed when there are several.
std::string trial_label(const TrialData& t, const std::vector<std::string>& varied,
                        bool with_seed) {
  std::string out;
  for (const auto& k : varied) {
    const std::string v = config_cell(t, k);
    if (v == "–") continue;  // a parameter of another loss
    const auto dot = k.rfind('.');
    const std::string name = dot == std::string::npos ? k : k.substr(dot + 1);
    out += out.empty() && name == "kind" ? v : fmt::format("{}{}={}", out.empty() ? "" : " ", name, v);
  }
  if (with_seed) out += fmt::format("{}seed {}", out.empty() ? "" : " ", t.seed);
  return out.empty() ? "all trials" : out;
}

bool several_seeds(const std::vector<TrialData>& trials) {
  std::set<int64_t> seeds;
  for (const auto& t : trials) seeds.insert(t.seed);
  return seeds.size() > 1;
}

// AP (x100) over the done trials in `trials`: the mean and the half-width of its 95% interval
// (one-sample t over the seeds; 0 for one seed).
std::pair<double, double> ap_stats(const std::vector<const TrialData*>& trials) {
  std::vector<double> v;
  for (const auto* t : trials) {
    auto it = t->metrics.find("AP");
    if (t->status == "done" && it != t->metrics.end() && it->second >= 0) v.push_back(100 * it->second);
  }
  if (v.empty()) return {std::nan(""), std::nan("")};
  const auto ci = mean_interval(v);
  if (!ci) return {v.front(), 0.0};
  return {ci->diff, (ci->hi - ci->lo) / 2};
}

double value_of(const harness::ConfigValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::nan("");
}

// The paper's curve from `table_id`: rows matching loss.kind = `kind`, x from key `x_key`.
Series paper_series(const std::string& table_id, const std::string& kind, const std::string& x_key,
                    const std::string& name) {
  Series s;
  s.name = name;
  s.dashed = true;
  s.markers = true;
  s.color = 7;  // gray
  std::vector<std::pair<double, double>> pts;
  for (const auto& row : harness::find_reference(table_id).rows) {
    bool kind_ok = false;
    double x = std::nan("");
    for (const auto& [key, value] : row.match) {
      if (key == "loss.kind") kind_ok = std::get_if<std::string>(&value) && std::get<std::string>(value) == kind;
      if (key == x_key) x = value_of(value);
    }
    if (kind_ok && std::isfinite(x) && row.metrics.count("AP")) pts.emplace_back(x, row.metrics.at("AP"));
  }
  std::sort(pts.begin(), pts.end());
  for (const auto& [x, y] : pts) {
    s.x.push_back(x);
    s.y.push_back(y);
  }
  return s;
}

// One line per value of `group_key` over the trials of loss `kind`: x = `x_key`, y = AP.
std::vector<Series> ap_lines(const std::vector<TrialData>& trials, const std::string& kind,
                             const std::string& x_key, const std::string& group_key,
                             const std::string& prefix) {
  std::map<std::string, std::map<double, std::vector<const TrialData*>>> by;
  for (const auto& t : trials) {
    if (t.config.count("loss.kind") && t.config.at("loss.kind") == kind && t.config.count(x_key)) {
      by[group_key.empty() ? "" : config_cell(t, group_key)][as_double(t.config.at(x_key))]
          .push_back(&t);
    }
  }
  std::vector<Series> out;
  for (const auto& [group, points] : by) {
    Series s;
    const auto dot = group_key.rfind('.');
    s.name = group_key.empty() ? prefix
                               : fmt::format("{}{} = {}", prefix,
                                             group_key.substr(dot == std::string::npos ? 0 : dot + 1),
                                             group);
    s.markers = true;
    for (const auto& [x, ts] : points) {
      const auto [mean, half] = ap_stats(ts);
      if (!std::isfinite(mean)) continue;
      s.x.push_back(x);
      s.y.push_back(mean);
      s.yerr.push_back(half);
    }
    if (!s.x.empty()) out.push_back(std::move(s));
  }
  return out;
}

Figure ap_vs(const SweepData& data, bool gamma) {
  Chart c;
  c.xlabel = gamma ? "focusing parameter γ (loss.gamma)" : "weight of positives α (loss.alpha)";
  c.ylabel = "COCO AP (x100), mean and 95% interval over seeds";
  if (gamma) {
    c.title = "AP vs γ: focal loss";
    c.series = ap_lines(data.trials, "focal", "loss.gamma", "loss.alpha", "focal, ");
  } else {
    c.title = "AP vs α: α-balanced CE and focal loss";
    c.series = ap_lines(data.trials, "alpha_ce", "loss.alpha", "", "α-balanced CE");
    for (auto& s : ap_lines(data.trials, "focal", "loss.alpha", "loss.gamma", "focal, ")) {
      c.series.push_back(std::move(s));
    }
  }
  if (c.series.empty()) {
    throw harness::UsageError(fmt::format(
        "plot --kind {}: sweep {} has no finished {} trials to plot (it needs trials of loss.kind "
        "{} with their AP)",
        gamma ? "ap-vs-gamma" : "ap-vs-alpha", data.name, gamma ? "focal" : "alpha_ce / focal",
        gamma ? "focal" : "alpha_ce or focal"));
  }
  for (size_t i = 0; i < c.series.size(); ++i) c.series[i].color = static_cast<int>(i);
  c.series.push_back(gamma ? paper_series("lin2017/table1b", "focal", "loss.gamma",
                                          "paper, COCO (Table 1(b), best α per γ)")
                           : paper_series("lin2017/table1a", "alpha_ce", "loss.alpha",
                                          "paper, COCO (Table 1(a), α-balanced CE)"));
  Figure f;
  f.title = fmt::format("Sweep {}", data.name);
  f.panels.push_back(std::move(c));
  f.columns = 1;
  return f;
}

Figure loss_curves(Database& db, const SweepData& data) {
  const auto varied = varied_config_keys(data.trials);
  const bool seeds = several_seeds(data.trials);
  Chart cls, box;
  cls.title = "Classification loss (normalized)";
  box.title = "Box regression loss (normalized)";
  cls.xlabel = box.xlabel = "iteration";
  cls.ylabel = "loss_cls, mean over each logging interval";
  box.ylabel = "loss_box, mean over each logging interval";
  // Iteration 1 is logged alone (the loss at init, 570 for CE in the paper regime against ~8 a
  // hundred iterations later): kept out of the curves when other rows follow, so that the
  // scale shows training; `focalab query steps` and the report's "at init" share have it.
  auto st = db.prepare(
      "SELECT iteration, loss_cls, loss_box FROM train_steps WHERE trial_id = ?1 AND "
      "(iteration > 1 OR NOT EXISTS (SELECT 1 FROM train_steps s WHERE s.trial_id = ?1 AND "
      "s.iteration > 1)) ORDER BY iteration");
  for (const auto& t : data.trials) {
    Series a, b;
    a.name = b.name = trial_label(t, varied, seeds);
    st.bind(1, t.id);
    while (st.step()) {
      const double it = static_cast<double>(st.get_int(0));
      a.x.push_back(it);
      b.x.push_back(it);
      a.y.push_back(st.is_null(1) ? std::nan("") : st.get_double(1));
      b.y.push_back(st.is_null(2) ? std::nan("") : st.get_double(2));
    }
    st.reset();
    if (a.x.empty()) continue;
    cls.series.push_back(std::move(a));
    box.series.push_back(std::move(b));
  }
  if (cls.series.empty()) {
    throw harness::UsageError(
        fmt::format("plot --kind loss-curves: sweep {} has no step log yet (run it "
                    "first)",
                    data.name));
  }
  Figure f;
  f.title = fmt::format("Sweep {}: training losses", data.name);
  f.panels = {std::move(cls), std::move(box)};
  f.columns = 2;
  return f;
}

Figure loss_share(Database& db, const SweepData& data) {
  const auto varied = varied_config_keys(data.trials);
  // configurations in sweep order, their trials
  std::vector<std::pair<std::string, std::vector<const TrialData*>>> groups;
  for (const auto& t : data.trials) {
    const std::string label = trial_label(t, varied, false);
    auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == label; });
    if (g == groups.end()) {
      groups.push_back({label, {}});
      g = groups.end() - 1;
    }
    g->second.push_back(&t);
  }
  auto st = db.prepare(
      "SELECT iteration, category, sum(loss_sum) FROM loss_breakdown WHERE trial_id = ?1 AND "
      "class_id = -1 GROUP BY iteration, category ORDER BY iteration");
  Figure f;
  f.title = fmt::format("Sweep {}: where the classification loss comes from", data.name);
  f.columns = 2;
  const char* names[3] = {"positives", "hard negatives (p ≥ hard_score)", "easy negatives"};
  const char* cats[3] = {"positive", "hard_negative", "easy_negative"};
  const int colors[3] = {2, 3, 0};
  for (const auto& [label, ts] : groups) {
    // iteration -> summed share over the group's trials, and how many trials had it
    std::map<int64_t, std::array<double, 4>> acc;
    for (const auto* t : ts) {
      std::map<int64_t, std::map<std::string, double>> sums;
      st.bind(1, t->id);
      while (st.step()) sums[st.get_int(0)][st.get_text(1)] = st.is_null(2) ? 0 : st.get_double(2);
      st.reset();
      for (auto& [it, by] : sums) {
        double total = 0;
        for (const auto& kv : by) total += kv.second;
        if (total <= 0) continue;
        auto& a = acc[it];
        for (int c = 0; c < 3; ++c) a[static_cast<size_t>(c)] += by[cats[c]] / total;
        a[3] += 1;
      }
    }
    if (acc.empty()) continue;
    Chart c;
    c.title = label + (ts.size() > 1 ? fmt::format(" ({} seeds)", ts.size()) : "");
    c.xlabel = "iteration";
    c.ylabel = "share of the classification loss";
    c.stacked = true;
    for (int k = 0; k < 3; ++k) {
      Series s;
      s.name = names[k];
      s.color = colors[k];
      for (const auto& [it, a] : acc) {
        s.x.push_back(static_cast<double>(it));
        s.y.push_back(a[static_cast<size_t>(k)] / a[3]);
      }
      c.series.push_back(std::move(s));
    }
    f.panels.push_back(std::move(c));
  }
  if (f.panels.empty()) {
    throw harness::UsageError(
        fmt::format("plot --kind loss-share: sweep {} has no loss breakdown yet (run "
                    "it first)",
                    data.name));
  }
  if (f.panels.size() == 1) f.columns = 1;
  return f;
}

// Figure 4: per analyzed trial, the cumulative normalized loss of its positive and negative
// examples, one curve per gamma (`analyze loss-cdf`).
Figure loss_cdf(Database& db, const SweepData& data, const std::string& trial_key) {
  const auto varied = varied_config_keys(data.trials);
  const bool seeds = several_seeds(data.trials);
  auto st = db.prepare(
      "SELECT gamma, examples, fraction, cumulative, count, images, iteration FROM loss_cdf "
      "WHERE trial_id = ?1 ORDER BY examples DESC, gamma, point");
  struct Analyzed {
    std::string label, about;
    std::vector<Chart> panels;  // positive, negative
  };
  std::vector<Analyzed> analyzed;
  for (const auto& t : data.trials) {
    if (!trial_key.empty() && t.key != trial_key) continue;
    Analyzed a;
    a.panels.resize(2);
    int64_t images = 0, iteration = 0;
    st.bind(1, t.id);
    while (st.step()) {
      const int k = st.get_text(1) == "positive" ? 0 : 1;
      Chart& c = a.panels[static_cast<size_t>(k)];
      const std::string name = fmt::format("γ = {:g}", st.get_double(0));
      if (c.series.empty() || c.series.back().name != name) {
        Series s;
        s.name = name;
        c.series.push_back(std::move(s));
        c.title = fmt::format("{} examples (n = {})", k == 0 ? "positive" : "negative",
                              st.get_int(4));
        c.xlabel = fmt::format("fraction of {} examples, sorted by loss (easiest first)",
                               k == 0 ? "foreground" : "background");
        c.ylabel = "cumulative normalized loss";
        c.ylim = std::make_pair(0.0, 1.0);
      }
      c.series.back().x.push_back(st.get_double(2));
      c.series.back().y.push_back(st.get_double(3));
      images = st.get_int(5);
      iteration = st.get_int(6);
    }
    st.reset();
    if (a.panels[0].series.empty()) continue;
    a.label = trial_label(t, varied, seeds);
    a.about = fmt::format("{}, {} it., {} val images", a.label, iteration, images);
    analyzed.push_back(std::move(a));
  }
  if (analyzed.empty()) {
    throw harness::UsageError(fmt::format(
        "plot --kind loss-cdf: {} has no loss-CDF results{} (`focalab analyze loss-cdf --trial "
        "KEY` computes them from a done trial's checkpoint)",
        trial_key.empty() ? "sweep " + data.name : "trial " + trial_key,
        trial_key.empty() ? "" : " in sweep " + data.name));
  }
  Figure f;
  f.columns = 2;
  f.title = "Loss CDF as in Figure 4 of Lin et al.";
  if (analyzed.size() == 1) f.title += ": " + analyzed[0].about;
  for (auto& a : analyzed) {
    for (auto& c : a.panels) {
      if (analyzed.size() > 1) c.title = a.label + ": " + c.title;
      f.panels.push_back(std::move(c));
    }
  }
  return f;
}

// Each configuration's AP minus its baseline's (the --baseline configuration with the same value
// of every key outside loss.*), against binary negatives per positive of its data.
Figure delta_vs_imbalance(const SweepData& data, const std::string& baseline_text,
                          const std::function<double(const harness::TrialConfig&)>& imbalance_of,
                          std::string& details) {
  if (!imbalance_of) {
    throw harness::UsageError("plot --kind delta-vs-imbalance: no measure of the data's "
                              "imbalance was given (focalab plot measures it)");
  }
  if (baseline_text.empty()) {
    throw harness::UsageError(
        "plot --kind delta-vs-imbalance: needs --baseline KEY=VALUE[,...], the "
        "configuration each other one is compared with (e.g. loss.kind=alpha_ce)");
  }
  const auto baseline = harness::parse_filter_text(baseline_text, "--baseline");
  struct Row {
    harness::TrialConfig config;
    std::map<int64_t, double> ap;  // by seed, x100
  };
  std::vector<Row> rows;
  std::map<std::string, size_t> index;  // config without its seed -> row
  for (const auto& t : data.trials) {
    harness::TrialConfig c = harness::config_from_json(t.config_json);
    c.seed = 0;
    const std::string key = harness::config_to_json(c);
    if (!index.count(key)) {
      index[key] = rows.size();
      rows.push_back({c, {}});
    }
    const auto it = t.metrics.find("AP");
    if (t.status == "done" && it != t.metrics.end() && it->second >= 0) {
      rows[index[key]].ap[t.seed] = 100 * it->second;
    }
  }
  std::vector<std::string> outside_loss;
  for (const auto& f : harness::config_fields()) {
    if (f.path.rfind("loss.", 0) != 0 && f.path != "seed") outside_loss.push_back(f.path);
  }
  auto same_setting = [&](const Row& a, const Row& b) {
    return std::all_of(outside_loss.begin(), outside_loss.end(), [&](const std::string& k) {
      return harness::get_value(a.config, k) == harness::get_value(b.config, k);
    });
  };
  // Binary negatives per positive, once per data setting.
  std::map<std::string, double> imbalance;
  auto negatives_per_positive = [&](const Row& r) {
    std::string key;
    for (const auto& k : outside_loss) key += harness::format_value(harness::get_value(r.config, k)) + "|";
    if (!imbalance.count(key)) {
      imbalance[key] = imbalance_of(r.config);
    }
    return imbalance[key];
  };
  // One series per loss setting compared; its label from the loss keys that differ from the
  // baseline's.
  std::map<std::string, Series> by_loss;
  std::vector<std::string> order;
  size_t compared = 0, baselines = 0;
  for (const auto& r : rows) {
    if (baseline.matches(r.config)) {
      ++baselines;
      continue;
    }
    const auto b = std::find_if(rows.begin(), rows.end(), [&](const Row& x) {
      return baseline.matches(x.config) && same_setting(x, r);
    });
    if (b == rows.end() || r.ap.empty() || b->ap.empty()) continue;
    std::string label;
    for (const auto& f : harness::config_fields()) {
      if (f.path.rfind("loss.", 0) != 0 ||
          harness::get_value(r.config, f.path) == harness::get_value(b->config, f.path)) {
        continue;  // the keys in which it differs from its baseline name it
      }
      label += fmt::format("{}{}={}", label.empty() ? "" : " ", f.path.substr(5),
                           harness::format_value(harness::get_value(r.config, f.path)));
    }
    if (!by_loss.count(label)) order.push_back(label);
    Series& s = by_loss[label];
    s.name = label + " − baseline";
    s.markers = true;
    double mean_r = 0, mean_b = 0;
    for (const auto& kv : r.ap) mean_r += kv.second / static_cast<double>(r.ap.size());
    for (const auto& kv : b->ap) mean_b += kv.second / static_cast<double>(b->ap.size());
    const auto ci = seed_interval(r.ap, b->ap);
    s.x.push_back(negatives_per_positive(r));
    s.y.push_back(mean_r - mean_b);
    s.yerr.push_back(ci ? (ci->hi - ci->lo) / 2 : 0.0);
    details += fmt::format("\n  {}: {:.0f} negatives per positive: AP {:+.1f}{}", label, s.x.back(),
                           s.y.back(),
                           ci ? fmt::format(" [{:+.1f}, {:+.1f}] ({}, n {})", ci->lo, ci->hi,
                                            ci->method, ci->n)
                              : std::string(" (no interval: one seed)"));
    ++compared;
  }
  if (compared == 0) {
    throw harness::UsageError(fmt::format(
        "plot --kind delta-vs-imbalance: sweep {} has no configuration with finished trials "
        "beside a --baseline {} one of the same data and model ({} baseline configuration(s))",
        data.name, baseline.str(), baselines));
  }
  Chart c;
  c.title = fmt::format("AP against the baseline ({}) over imbalance", baseline.str());
  c.xlabel = "binary negatives per positive (focalab data stats), log scale";
  c.ylabel = "AP minus the baseline's (x100), 95% interval";
  c.log_x = true;
  double lo = 1e300, hi = -1e300;
  for (const auto& label : order) {
    Series s = by_loss[label];
    // in order of imbalance
    std::vector<size_t> idx(s.x.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
    Series sorted = s;
    for (size_t i = 0; i < idx.size(); ++i) {
      sorted.x[i] = s.x[idx[i]];
      sorted.y[i] = s.y[idx[i]];
      sorted.yerr[i] = s.yerr[idx[i]];
      lo = std::min(lo, sorted.x[i]);
      hi = std::max(hi, sorted.x[i]);
    }
    c.series.push_back(std::move(sorted));
  }
  Series zero;
  zero.x = {lo, hi};
  zero.y = {0, 0};
  zero.dashed = true;
  zero.color = 7;  // gray: no difference
  c.series.push_back(std::move(zero));
  Figure f;
  f.title = fmt::format("Sweep {}", data.name);
  f.panels.push_back(std::move(c));
  f.columns = 1;
  return f;
}

}  // namespace

const std::vector<std::string>& plot_kinds() {
  static const std::vector<std::string> kinds = {"ap-vs-gamma", "ap-vs-alpha", "loss-share",
                                                 "loss-curves", "loss-cdf", "delta-vs-imbalance"};
  return kinds;
}

namespace {

void check_kind(const PlotOptions& o) {
  if (std::find(plot_kinds().begin(), plot_kinds().end(), o.kind) == plot_kinds().end()) {
    throw harness::UsageError(
        fmt::format("--kind '{}': allowed {}", o.kind, fmt::join(plot_kinds(), ", ")));
  }
}

// The figure of `o` and, where the kind lists them, the numbers behind it.
Figure build_figure(const PlotOptions& o, std::string& details) {
  require_results_db(o.db_path);
  Database db(o.db_path, Database::Mode::kReadOnly);
  std::string sweep = o.sweep;
  if (!o.trial.empty() && sweep.empty()) {
    // the latest sweep the trial belongs to
    auto st = db.prepare(
        "SELECT s.name FROM sweeps s JOIN sweep_trials st ON st.sweep_id = s.id JOIN trials t "
        "ON t.id = st.trial_id WHERE t.key = ?1 ORDER BY s.updated_at DESC, s.id DESC LIMIT 1");
    st.bind(1, o.trial);
    if (!st.step()) {
      throw harness::UsageError(
          fmt::format("--trial {}: no such trial in {} (focalab query trials lists "
                      "them)",
                      o.trial, o.db_path));
    }
    sweep = st.get_text(0);
  }
  const SweepData data = load_sweep_data(db, o.db_path, sweep);
  if (o.kind == "ap-vs-gamma" || o.kind == "ap-vs-alpha") return ap_vs(data, o.kind == "ap-vs-gamma");
  if (o.kind == "loss-curves") return loss_curves(db, data);
  if (o.kind == "loss-share") return loss_share(db, data);
  if (o.kind == "delta-vs-imbalance") return delta_vs_imbalance(data, o.baseline, o.negatives_per_positive, details);
  return loss_cdf(db, data, o.trial);
}

}  // namespace

std::string make_plot(const PlotOptions& o) {
  check_kind(o);
  if (o.out.empty()) throw harness::UsageError("plot: --out FILE.svg|.png|.pdf is required");
  std::string details;
  const Figure f = build_figure(o, details);
  write_figure(f, o.out);
  size_t series = 0;
  for (const auto& p : f.panels) series += p.series.size();
  return fmt::format("wrote {}: {} ({} panel(s), {} series){}", o.out, o.kind, f.panels.size(),
                     series, details);
}

std::string plot_svg(const PlotOptions& o) {
  check_kind(o);
  std::string details;
  return figure_svg(build_figure(o, details));
}

}  // namespace plots
}  // namespace focalab::reports
