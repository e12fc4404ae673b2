// `focalab report` formats on a fixture database written by the test: two configurations over two
// seeds each — focal loss (gamma 2, alpha .25; AP .30 and .32) and CE (seed 1 diverged at
// iteration 6, seed 2 AP .25) — with the paper's Tables 1(a) and 1(b) as reference. The golden
// numbers follow by hand: focal AP (30 + 32) / 2 = 31.0, sample std sqrt(2 * 1^2 / 1) = 1.4,
// paper 34.0 so ΔAP -3.0; CE AP 25.0 over n = 1 done trial, paper 30.2 so ΔAP -5.2; the loss
// shares of focal seed 1 at init (iteration 1) 1:0:99, then per third of training: early 1:1:2,
// mid 2:1:1, late 1:0:3.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <map>
#include <fstream>

#include "harness/analysis/data_stats.h"
#include "harness/config/config.h"
#include "harness/config/sweep.h"
#include "harness/data/image_io.h"
#include "harness/store/sqlite.h"
#include "harness/store/store.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"
#include "reports/plots/plot.h"
#include "reports/report.h"
#include "test_util.h"

namespace focalab::reports {
namespace {

// The standard output of a shell command ("" when it cannot run).
std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n = 0;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

std::string fixture(const testing::TempDir& dir, const std::string& name = "fx") {
  const std::string path = dir.file("fixture.db");
  harness::Store store(path);
  harness::SweepSpec spec;
  spec.name = name;
  spec.reference = "lin2017/table1a,lin2017/table1b";
  std::vector<harness::TrialSpec> trials;
  for (const char* kind : {"focal", "ce"}) {
    for (int64_t seed : {1, 2}) {
      harness::TrialConfig c;
      c.loss.kind = *harness::enum_named<harness::LossKind>(kind);
      c.seed = seed;
      harness::finalize_config(c, "fixture");
      const std::string json = harness::config_to_json(c);
      trials.push_back({c, json, fmt::format("{}{}", kind, seed), {}});
    }
  }
  const auto rows = store.register_sweep(spec, trials);
  auto& db = store.db();
  auto done = [&](size_t i, double ap, double ap50, double ap75) {
    db.prepare("UPDATE trials SET status = 'done' WHERE id = ?1").bind(1, rows[i].id).run();
    for (auto [m, v] : {std::pair<const char*, double>{"AP", ap}, {"AP50", ap50}, {"AP75", ap75}}) {
      db.prepare("INSERT INTO evaluations VALUES (?1, 30, 'val', ?2, ?3)")
          .bind(1, rows[i].id).bind(2, std::string(m)).bind(3, v).run();
    }
  };
  done(0, 0.30, 0.50, 0.31);
  done(1, 0.32, 0.52, 0.33);
  db.prepare("UPDATE trials SET status = 'diverged', diverged_at_iter = 6 WHERE id = ?1")
      .bind(1, rows[2].id).run();
  done(3, 0.25, 0.40, 0.26);
  // iterations 1 (at init), 10, 20, 30
  const double sums[4][3] = {{1, 0, 99}, {1, 1, 2}, {2, 1, 1}, {1, 0, 3}};
  const int64_t iterations[4] = {1, 10, 20, 30};
  const char* cats[3] = {"positive", "hard_negative", "easy_negative"};
  for (int p = 0; p < 4; ++p) {
    for (int c = 0; c < 3; ++c) {
      db.prepare("INSERT INTO loss_breakdown VALUES (?1, ?2, ?3, -1, 100, ?4, 0)")
          .bind(1, rows[0].id).bind(2, iterations[p]).bind(3, std::string(cats[c]))
          .bind(4, sums[p][c]).run();
    }
  }
  for (size_t i : {size_t{0}, size_t{3}}) {  // a step log for two trials
    for (int64_t it : {10, 20, 30}) {
      db.prepare("INSERT INTO train_steps (trial_id, iteration, lr, loss_cls, loss_box, loss_total, "
                 "num_pos, normalizer, ms_per_iter) VALUES (?1, ?2, 0.01, ?3, ?4, ?5, 10, 10, 80)")
          .bind(1, rows[i].id).bind(2, it).bind(3, 1.0 / static_cast<double>(it))
          .bind(4, 0.5 / static_cast<double>(it)).bind(5, 1.5 / static_cast<double>(it)).run();
    }
  }
  return path;
}

std::string render(const std::string& path, const std::string& format,
                   const std::string& sweep = "fx") {
  ReportOptions o;
  o.db_path = path;
  o.sweep = sweep;
  o.format = format;
  return render_report(o);
}

TEST(ReportFormats, MarkdownMeanStdDeltaBestAndLossShare) {
  testing::TempDir dir;
  const std::string md = render(fixture(dir), "md");
  EXPECT_NE(md.find("## Sweep `fx` — 4 trials, 3 done"), std::string::npos) << md;
  EXPECT_NE(md.find("| loss.kind | loss.gamma | loss.alpha | status               | n |"
                    "              AP |        AP50 |        AP75 | paper AP | paper AP50 |"
                    " paper AP75 |  ΔAP |\n"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| focal     | 2          | 0.25       | done                 | 2 |"
                    "  **31.0 ± 1.4** |  51.0 ± 1.4 |  32.0 ± 1.4 |     34.0 |       52.5 |"
                    "       36.5 | -3.0 |\n"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| ce        | –          | –          | 1 diverged@6, 1 done | 2 |"
                    "            25.0 |        40.0 |        26.0 |     30.2 |       46.7 |"
                    "       32.8 | -5.2 |\n"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| focal     | 2          | 0.25       |        1.0% |         0.0% |        99.0% |"
                    "     25.0% |      25.0% |      50.0% |   50.0% |    25.0% |    25.0% |    25.0% |"
                    "      0.0% |     75.0% |\n"),
            std::string::npos) << md;
  EXPECT_NE(md.find("Paper: Table 1(b)"), std::string::npos) << md;
}

TEST(ReportFormats, CsvCarriesEveryNumber) {
  testing::TempDir dir;
  const std::string csv = render(fixture(dir), "csv");
  const auto nl = csv.find('\n');
  EXPECT_EQ(csv.substr(0, nl),
            "loss.kind,loss.gamma,loss.alpha,n,status,AP_mean,AP_std,AP_n,AP50_mean,AP50_std,"
            "AP50_n,AP75_mean,AP75_std,AP75_n,paper_AP,paper_AP50,paper_AP75,delta_AP,"
            "share_init_positive,share_init_hard_negative,share_init_easy_negative,"
            "share_early_positive,share_early_hard_negative,share_early_easy_negative,"
            "share_mid_positive,share_mid_hard_negative,share_mid_easy_negative,"
            "share_late_positive,share_late_hard_negative,share_late_easy_negative,best");
  EXPECT_NE(csv.find("\nfocal,2,0.25,2,done,31.0000,1.4142,2,51.0000,1.4142,2,32.0000,1.4142,2,"
                     "34.0000,52.5000,36.5000,-3.0000,0.0100,0.0000,0.9900,0.2500,0.2500,0.5000,0.5000,0.2500,0.2500,"
                     "0.2500,0.0000,0.7500,1\n"),
            std::string::npos) << csv;
  EXPECT_NE(csv.find("\nce,–,–,2,\"1 diverged@6, 1 done\",25.0000,,1,40.0000,,1,26.0000,,1,"
                     "30.2000,46.7000,32.8000,-5.2000,,,,,,,,,,,,,0\n"),
            std::string::npos) << csv;
}

// --all-metrics adds APs/APm/APl and, where trials recorded it, the inference time per image:
// milliseconds as stored (not x100). Focal seeds 12.5 and 13.5 ms -> 13.0 ± 0.7071; CE 20 over
// n = 1 (no std).
TEST(ReportFormats, AllMetricsShowInferenceMsUnscaled) {
  testing::TempDir dir;
  const std::string path = fixture(dir);
  ReportOptions o;
  o.db_path = path;
  o.sweep = "fx";
  o.format = "csv";
  o.all_metrics = true;
  EXPECT_EQ(render_report(o).find("ms_per_image"), std::string::npos);  // none recorded yet
  {
    harness::Database db(path, harness::Database::Mode::kReadWriteCreate);
    for (auto [seed, ms] : {std::pair<int64_t, double>{1, 12.5}, {2, 13.5}}) {
      db.prepare("INSERT INTO evaluations SELECT id, 30, 'val', 'ms_per_image', ?2 FROM trials "
                 "WHERE json_extract(config_json, '$.\"loss.kind\"') = 'focal' AND seed = ?1")
          .bind(1, seed).bind(2, ms).run();
    }
    db.prepare("INSERT INTO evaluations SELECT id, 30, 'val', 'ms_per_image', 20 FROM trials "
               "WHERE json_extract(config_json, '$.\"loss.kind\"') = 'ce' AND seed = 2").run();
  }
  const std::string csv = render_report(o);
  EXPECT_NE(csv.find(",APl_mean,APl_std,APl_n,ms_per_image_mean,ms_per_image_std,ms_per_image_n,"),
            std::string::npos) << csv;
  EXPECT_NE(csv.find(",13.0000,0.7071,2,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",20.0000,,1,"), std::string::npos) << csv;  // no std over one seed
  o.all_metrics = false;
  EXPECT_EQ(render_report(o).find("ms_per_image"), std::string::npos);
}

TEST(ReportFormats, LatexIsABooktabsTable) {
  testing::TempDir dir;
  const std::string tex = render(fixture(dir), "latex");
  EXPECT_NE(tex.find("\\begin{tabular}{llllrrrrrrrr}\n\\toprule\n"), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\cmidrule(lr){6-8} \\cmidrule(lr){9-12}"), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\multicolumn{5}{l}{} & \\multicolumn{3}{c}{measured} & "
                     "\\multicolumn{4}{c}{paper} \\\\\n"),
            std::string::npos) << tex;
  EXPECT_NE(tex.find("loss.kind & loss.gamma & loss.alpha & status & $n$ & AP & AP50 & AP75 & "
                     "AP & AP50 & AP75 & $\\Delta$AP \\\\\n\\midrule\n"),
            std::string::npos) << tex;
  EXPECT_NE(tex.find("focal & 2 & 0.25 & done & 2 & \\textbf{$31.0 \\pm 1.4$} & $51.0 \\pm 1.4$ "
                     "& $32.0 \\pm 1.4$ & 34.0 & 52.5 & 36.5 & -3.0 \\\\\n"),
            std::string::npos) << tex;
  EXPECT_NE(tex.find("ce & -- & -- & 1 diverged@6, 1 done & 2 & 25.0 & 40.0 & 26.0 & 30.2 & "
                     "46.7 & 32.8 & -5.2 \\\\\n\\bottomrule\n\\end{tabular}%\n}\n"),
            std::string::npos) << tex;
  // Balanced: every { has its }.
  EXPECT_EQ(std::count(tex.begin(), tex.end(), '{'), std::count(tex.begin(), tex.end(), '}'));
}

// The LaTeX output compiles with pdflatex (texlive-latex-recommended has booktabs) in a minimal
// article, with a sweep name that needs escaping; skipped where pdflatex is not installed.
TEST(ReportFormats, LatexCompilesWithPdflatex) {
  if (!std::filesystem::exists("/usr/bin/pdflatex")) {
    GTEST_SKIP() << "pdflatex not installed (scripts/install-deps --test installs it)";
  }
  testing::TempDir dir;
  // with the sweep's plots as PDF figures (--figures): file names LaTeX takes as they are
  ReportOptions o;
  o.db_path = fixture(dir, "table1b_gamma&alpha #2");
  o.sweep = "table1b_gamma&alpha #2";
  o.format = "latex";
  o.figures_dir = "figs";
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(std::filesystem::path(dir.file("doc.tex")).parent_path());
  const std::string tex = render_report(o);
  std::filesystem::current_path(cwd);
  EXPECT_NE(tex.find("\\label{tab:table1b-gamma-alpha--2}"), std::string::npos) << tex;
  for (const char* kind : {"ap-vs-gamma", "ap-vs-alpha", "loss-share", "loss-curves"}) {
    const std::string file = fmt::format("figs/table1b-gamma-alpha--2-{}.pdf", kind);
    EXPECT_NE(tex.find(fmt::format("\\includegraphics[width=\\linewidth]{{{}}}", file)),
              std::string::npos) << tex;
    EXPECT_TRUE(std::filesystem::exists(dir.file(file))) << file;
  }
  EXPECT_EQ(tex.find("loss-cdf.pdf"), std::string::npos);  // no analyzed trial: no Figure 4
  {
    std::ofstream f(dir.file("doc.tex"));
    f << "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n"
      << "\\begin{document}\n" << tex
      << "\n\\end{document}\n";
  }
  const std::string cmd = fmt::format(
      "cd '{}' && pdflatex -interaction=nonstopmode -halt-on-error doc.tex > pdflatex.log 2>&1",
      std::filesystem::path(dir.file("doc.tex")).parent_path().string());
  EXPECT_EQ(std::system(cmd.c_str()), 0) << tex;
  EXPECT_TRUE(std::filesystem::exists(dir.file("doc.pdf")));
  std::ifstream log(dir.file("doc.log"));
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  const auto overfull = text.find("Overfull");
  EXPECT_EQ(overfull, std::string::npos)
      << "wider than the text: " << text.substr(overfull == std::string::npos ? 0 : overfull, 60);
  EXPECT_EQ(text.find("Undefined control sequence"), std::string::npos);
}

TEST(ReportFormats, JsonAndHtmlAndUnknownFormat) {
  testing::TempDir dir;
  const std::string path = fixture(dir);
  const std::string text = render(path, "json");
  const auto json = harness::Json::parse(text);
  const auto& row = json.at("rows").at(0);
  EXPECT_EQ(row.at("metrics").at("AP"),
            harness::Json::parse(R"({"mean": 31, "std": 1.4142135623730951, "n": 2})")) << text;
  EXPECT_EQ(row.at("best"), true) << text;
  EXPECT_EQ(row.at("loss_share").at("init"),
            harness::Json::parse(R"({"positive": 0.01, "hard_negative": 0, "easy_negative": 0.99})"))
      << text;
  EXPECT_EQ(row.at("loss_share").at("early"),
            harness::Json::parse(R"({"positive": 0.25, "hard_negative": 0.25, "easy_negative": 0.5})"))
      << text;
  // one key a line, indented: what `jq .` would print
  EXPECT_NE(text.find("\n  \"rows\": [\n    {\n      \"config\": {"), std::string::npos) << text;
  const std::string html = render(path, "html");
  EXPECT_NE(html.find("<td class=\"num\"><b>31.0 ± 1.4</b></td>"), std::string::npos) << html;
  EXPECT_THROW(render(path, "docx"), harness::UsageError);
}

// Plots from the fixture: the series each figure must have, SVG and PNG written and non-empty.
// --baseline: three configurations — alpha-CE (the baseline) and the focal loss over seeds
// 1, 2, 3, CE over seeds 1, 2. AP x100: alpha-CE 35.5, 36.9, 37.4; focal 38.0, 40.1, 39.2 (same
// seeds: paired, differences 2.5, 3.2, 1.8); CE 37.5, 40.9 (other seeds: Welch). The intervals
// were computed with scipy 1.10.1: ttest_rel(focal, alpha_ce).confidence_interval(0.95) =
// [0.7611036, 4.2388964]; Welch from numpy var(ddof=1) and t.ppf(.975, df): df 1.2285880,
// [-12.2445755, 17.4445755] around 2.6.
// A results database `file` holding sweep `name` of `trials`, each done with final AP `aps[i]`.
std::string done_sweep(const testing::TempDir& dir, const std::string& file,
                       const std::string& name, const std::vector<harness::TrialSpec>& trials,
                       const std::vector<double>& aps) {
  const std::string path = dir.file(file);
  harness::Store store(path);
  harness::SweepSpec spec;
  spec.name = name;
  const auto rows = store.register_sweep(spec, trials);
  for (size_t i = 0; i < rows.size(); ++i) {
    store.db().prepare("UPDATE trials SET status = 'done' WHERE id = ?1").bind(1, rows[i].id).run();
    store.db().prepare("INSERT INTO evaluations VALUES (?1, 30, 'val', 'AP', ?2)")
        .bind(1, rows[i].id).bind(2, aps[i]).run();
  }
  return path;
}

std::string baseline_fixture(const testing::TempDir& dir) {
  std::vector<harness::TrialSpec> trials;
  std::vector<double> aps;
  struct Row { const char* kind; int64_t seed; double ap; };
  const std::vector<Row> data = {{"alpha_ce", 1, .355}, {"alpha_ce", 2, .369}, {"alpha_ce", 3, .374},
                                 {"focal", 1, .380},    {"focal", 2, .401},    {"focal", 3, .392},
                                 {"ce", 1, .375},       {"ce", 2, .409}};
  for (const auto& d : data) {
    harness::TrialConfig c;
    c.loss.kind = *harness::enum_named<harness::LossKind>(d.kind);
    if (std::string(d.kind) == "alpha_ce") c.loss.alpha = 0.75;
    c.seed = d.seed;
    harness::finalize_config(c, "fixture");
    trials.push_back({c, harness::config_to_json(c), fmt::format("{}{}", d.kind, d.seed), {}});
    aps.push_back(d.ap);
  }
  return done_sweep(dir, "baseline.db", "bl", trials, aps);
}

std::string render_baseline(const std::string& path, const std::string& format,
                            const std::string& baseline) {
  ReportOptions o;
  o.db_path = path;
  o.sweep = "bl";
  o.format = format;
  o.baseline = baseline;
  return render_report(o);
}

TEST(ReportFormats, BaselineDifferencesWithPairedAndWelchIntervals) {
  testing::TempDir dir;
  const std::string db = baseline_fixture(dir);
  const std::string md = render_baseline(db, "md", "loss.kind=alpha_ce,loss.alpha=.75");
  EXPECT_NE(md.find("| alpha_ce  | –          | 0.75       | done   | 3 |      36.6 ± 1.0 |    – |"
                    "    – |            baseline |\n"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| focal     | 2          | 0.25       | done   | 3 |      39.1 ± 1.1 |    – |"
                    "    – |  +2.5 [+0.8, +4.2]* |\n"),  // paired: the interval excludes 0
            std::string::npos) << md;
  EXPECT_NE(md.find("| ce        | –          | –          | done   | 2 |  **39.2 ± 2.4** |    – |"
                    "    – | +2.6 [-12.2, +17.4] |\n"),  // Welch: it does not
            std::string::npos) << md;
  EXPECT_NE(md.find("with its 95% confidence interval (paired t over the 3 seeds both ran; Welch's "
                    "t where the seeds differ); * the interval excludes 0"),
            std::string::npos) << md;
  const std::string text = render_baseline(db, "json", "loss.kind=alpha_ce");
  const auto json = harness::Json::parse(text);
  std::map<std::string, harness::Json> vs;  // by loss.kind
  for (const auto& row : json.at("rows")) vs[row.at("config").at("loss.kind")] = row.at("vs_baseline");
  EXPECT_EQ(vs["alpha_ce"], "baseline") << text;
  EXPECT_NEAR(vs["focal"].at("lo").get<double>(), 0.76110360, 1e-8) << text;
  EXPECT_NEAR(vs["focal"].at("hi").get<double>(), 4.23889639, 1e-8) << text;
  EXPECT_EQ(vs["focal"].at("method"), "paired") << text;
  EXPECT_EQ(vs["focal"].at("significant"), true) << text;
  EXPECT_NEAR(vs["ce"].at("lo").get<double>(), -12.244575, 1e-6) << text;
  EXPECT_NEAR(vs["ce"].at("hi").get<double>(), 17.444575, 1e-6) << text;
  EXPECT_NEAR(vs["ce"].at("df").get<double>(), 1.228588, 1e-6) << text;
  EXPECT_EQ(vs["ce"].at("method"), "welch") << text;
  EXPECT_EQ(vs["ce"].at("n"), 2) << text;
  const std::string csv = render_baseline(db, "csv", "loss.kind=alpha_ce");
  EXPECT_NE(csv.find(",baseline,vs_baseline_AP,vs_baseline_lo,vs_baseline_hi,vs_baseline_method,"
                     "vs_baseline_df,vs_baseline_significant,"),
            std::string::npos) << csv;
  EXPECT_NE(csv.find(",0,2.5000,0.7611,4.2389,paired,2.0000,1,"), std::string::npos) << csv;
  EXPECT_NE(render_baseline(db, "latex", "loss.kind=alpha_ce").find("vs baseline"),
            std::string::npos);
  EXPECT_NE(render_baseline(db, "html", "loss.kind=alpha_ce").find("<td class=\"num\">baseline</td>"),
            std::string::npos);
  // A filter must select exactly one configuration, by config keys and values the field table
  // allows (checked as a claim's filter is).
  for (const auto& [bad, says] :
       std::vector<std::pair<std::string, std::string>>{
           {"loss.kind=ohem", "selects 0 configurations of sweep bl; it must select one "
                              "(loss.kind: alpha_ce | focal | ce; loss.gamma: – | 2; loss.alpha: 0.75 | 0.25 | –)"},
           {"train.lr=0.01", "selects 3 configurations"},
           {"loss.kind=sgd", "--baseline: loss.kind: 'sgd' is not allowed; allowed: one of ce, "
                             "alpha_ce, focal, focal_star, ohem"},
           {"loss.kindd=ce", "--baseline: loss.kindd: unknown key (did you mean 'loss.kind'?)"},
           {"loss.kind", "'loss.kind' is not key=value"}}) {
    try {
      render_baseline(db, "md", bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const harness::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  }
}

// One seed a configuration, with bootstrap replicates (200, as training keeps): alpha-CE's AP
// replicates are 30 + 0.01 r (x100, r = 0..199), FL's 30 + 0.02 r; the full-set APs 31.0 and
// 32.0. By hand: the sample standard deviation of 0..199 is sqrt(200 x 201 / 12) = 57.8792, so
// both alpha-CE's replicates and the paired differences (0.01 r) spread 0.578792; times
// z(.975) = 1.959964: 1.134412 -> alpha-CE 31.0 [29.866, 32.134], FL - alpha-CE 1.0
// [-0.134, 2.134] (not significant).
TEST(ReportFormats, OneSeedRowsGetBootstrapIntervals) {
  testing::TempDir dir;
  const std::string path = dir.file("boot.db");
  {
    harness::Store store(path);
    harness::SweepSpec spec;
    spec.name = "bs";
    std::vector<harness::TrialSpec> trials;
    for (const char* kind : {"alpha_ce", "focal"}) {
      harness::TrialConfig c;
      c.loss.kind = *harness::enum_named<harness::LossKind>(kind);
      if (std::string(kind) == "alpha_ce") c.loss.alpha = 0.75;
      harness::finalize_config(c, "fixture");
      trials.push_back({c, harness::config_to_json(c), kind, {}});
    }
    const auto rows = store.register_sweep(spec, trials);
    for (size_t i = 0; i < 2; ++i) {
      harness::CocoSummary s;
      s.stats.fill(-1);
      s.stats[0] = i == 0 ? 0.31 : 0.32;
      for (int r = 0; r < 200; ++r) {
        const double ap = 0.30 + (i == 0 ? 0.0001 : 0.0002) * r;
        s.bootstrap.push_back({ap, ap, ap});
      }
      store.write_evaluation(rows[i].id, 30, "val", s, {});
      store.mark_finished(rows[i].id, harness::TrialStatus::kDone);
    }
  }
  ReportOptions o;
  o.db_path = path;
  o.baseline = "loss.kind=alpha_ce";
  const std::string md = render_report(o);
  EXPECT_NE(md.find(" 31.0 [29.9, 32.1] |"), std::string::npos) << md;
  EXPECT_NE(md.find("| +1.0 [-0.1, +2.1] |"), std::string::npos) << md;  // paired bootstrap
  EXPECT_NE(md.find("AP [lo, hi]: for a configuration with one seed, the 95% bootstrap "
                    "interval over the val images"),
            std::string::npos) << md;
  EXPECT_NE(md.find("one seed each: the paired bootstrap over the val images"), std::string::npos)
      << md;
  o.format = "json";
  const std::string text = render_report(o);
  const auto json = harness::Json::parse(text);
  bool bootstrap_row = false, bootstrap_vs = false;
  for (const auto& row : json.at("rows")) {
    const auto& ap = row.at("metrics").at("AP");
    if (ap.contains("bootstrap_lo") && std::fabs(ap.at("bootstrap_lo").get<double>() - 29.8655) < 1e-4) {
      bootstrap_row = true;
    }
    const auto& vs = row.at("vs_baseline");
    if (vs.is_object() && vs.at("method") == "bootstrap" && vs.at("n") == 200) bootstrap_vs = true;
  }
  EXPECT_TRUE(bootstrap_row) << text;
  EXPECT_TRUE(bootstrap_vs) << text;
}

// The sweep's claims end the report with a verdict each (logic: verdicts_test.cpp); the count
// of failed ones is what `report --check` exits on.
TEST(ReportFormats, ClaimsEndTheReportWithVerdicts) {
  testing::TempDir dir;
  const std::string db = baseline_fixture(dir);
  {
    harness::Database w(db, harness::Database::Mode::kReadWriteCreate);
    w.prepare("UPDATE sweeps SET claims = ?1")
        .bind(1, std::string("- better: {loss.kind: focal}\n  than: {loss.kind: alpha_ce}\n"
                             "- diverges: {loss.kind: ce}\n"))
        .run();
  }
  ReportOptions o;
  o.db_path = db;
  int64_t failed = -1;
  const std::string md = render_report(o, &failed);
  EXPECT_EQ(failed, 1);
  EXPECT_NE(md.find("### Claims\n\n| claim "), std::string::npos) << md;
  EXPECT_NE(md.find("| loss.kind=focal better than loss.kind=alpha_ce (AP) | **holds** | AP +2.5 "
                    "[+0.8, +4.2] (paired, n 3)   |"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| loss.kind=ce diverges "), std::string::npos) << md;
  EXPECT_NE(md.find("| **fails** | 0 of 2 trial(s) diverged, 2 finished |"), std::string::npos)
      << md;
  o.format = "json";
  const std::string text = render_report(o);
  const auto claims = harness::Json::parse(text).at("claims");
  ASSERT_EQ(claims.size(), 2u) << text;
  EXPECT_EQ(claims[0].at("claim"), "loss.kind=focal better than loss.kind=alpha_ce (AP)") << text;
  EXPECT_EQ(claims[0].at("verdict"), "holds") << text;
  EXPECT_EQ(claims[0].at("evidence"), "AP +2.5 [+0.8, +4.2] (paired, n 3)") << text;
  EXPECT_EQ(claims[1].at("verdict"), "fails") << text;
  // A database without claims: no section, nothing failed.
  failed = -1;
  o.db_path = fixture(dir);
  EXPECT_EQ(render(o.db_path, "md").find("### Claims"), std::string::npos);
  o.format = "md";
  o.sweep = "fx";
  render_report(o, &failed);
  EXPECT_EQ(failed, 0);
}

TEST(Plots, EachKindDrawsItsSeries) {
  testing::TempDir dir;
  const std::string db = fixture(dir);
  auto plot = [&](const std::string& kind, const std::string& out) {
    PlotOptions o;
    o.db_path = db;
    o.sweep = "fx";
    o.kind = kind;
    o.out = dir.file(out);
    return make_plot(o);
  };
  // Each kind in each format, drawn by cairo: the series it says it drew, an SVG whose root
  // carries that count, a PNG of the figure's size with ink on it, a PDF that poppler renders
  // and whose text holds the labels.
  struct Kind {
    const char* name;
    const char* drawn;
    int series;
  };
  const Kind kinds[] = {
      {"ap-vs-gamma", "1 panel(s), 2 series", 2},  // focal (alpha .25) over gamma, Table 1(b)
      {"ap-vs-alpha", "1 panel(s), 2 series", 2},  // focal (gamma 2) over alpha, Table 1(a)
      {"loss-share", "1 panel(s), 3 series", 3},   // positives, hard, easy
      {"loss-curves", "2 panel(s), 4 series", 4},  // two trials with a step log
  };
  const bool poppler = std::filesystem::exists("/usr/bin/pdftoppm") &&
                       std::filesystem::exists("/usr/bin/pdftotext");
  for (const auto& k : kinds) {
    const std::string base = k.name;
    EXPECT_NE(plot(k.name, base + ".svg").find(k.drawn), std::string::npos) << k.name;
    std::ifstream in(dir.file(base + ".svg"));
    const std::string svg((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(svg.find("<svg"), 0u) << k.name;
    EXPECT_NE(svg.find(fmt::format("data-series=\"{}\"", k.series)), std::string::npos);
    EXPECT_NE(svg.rfind("</svg>"), std::string::npos) << k.name;
    if (std::filesystem::exists("/usr/bin/python3")) {  // well-formed XML
      EXPECT_EQ(std::system(fmt::format("/usr/bin/python3 -c 'import sys, xml.etree.ElementTree "
                                        "as E; E.parse(sys.argv[1])' '{}'",
                                        dir.file(base + ".svg"))
                                .c_str()),
                0)
          << k.name;
    }

    EXPECT_NE(plot(k.name, base + ".png").find(k.drawn), std::string::npos) << k.name;
    const auto size = harness::probe_image(dir.file(base + ".png"));
    EXPECT_EQ(size.first % 434, 0) << k.name;  // panels of 434 x 560 px
    EXPECT_EQ(size.second % 560, 0) << k.name;
    const auto img = harness::read_image(dir.file(base + ".png"));
    EXPECT_LT(img.mean().item<float>(), 0.98f) << k.name;  // not blank
    EXPECT_GT((img < 0.5).sum().item<int64_t>(), 1000) << k.name;

    EXPECT_NE(plot(k.name, base + ".pdf").find(k.drawn), std::string::npos) << k.name;
    std::ifstream pdf_in(dir.file(base + ".pdf"), std::ios::binary);
    const std::string pdf((std::istreambuf_iterator<char>(pdf_in)), {});
    EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u) << k.name;
    if (poppler) {
      EXPECT_EQ(std::system(fmt::format("pdftoppm -r 30 -png '{}' '{}' 2>/dev/null",
                                        dir.file(base + ".pdf"), dir.file(base + "-page"))
                                .c_str()),
                0)
          << k.name;
      EXPECT_TRUE(std::filesystem::exists(dir.file(base + "-page-1.png")) ||
                  std::filesystem::exists(dir.file(base + "-page-01.png")))
          << k.name;
    }
  }
  // The loss-share PNG at the figure's size; the labels of the gamma plot, as text in its PDF.
  EXPECT_EQ(harness::probe_image(dir.file("loss-share.png")),
            (std::pair<int64_t, int64_t>{434, 560}));
  if (poppler) {
    const std::string text = command_output(
        fmt::format("pdftotext -layout '{}' -", dir.file("ap-vs-gamma.pdf")));
    EXPECT_NE(text.find("paper, COCO (Table 1(b), best α per γ)"), std::string::npos) << text;
    EXPECT_NE(text.find("focal, alpha = 0.25"), std::string::npos) << text;
    EXPECT_NE(text.find("focusing parameter γ (loss.gamma)"), std::string::npos) << text;
  } else {
    ADD_FAILURE() << "pdftoppm / pdftotext missing (poppler-utils; scripts/install-deps.sh "
                     "installs it): the PDF figures were not rendered";
  }
  EXPECT_THROW(plot("loss-cdf", "x.svg"), harness::UsageError);
  EXPECT_THROW(plot("histogram", "x.svg"), harness::UsageError);
  EXPECT_THROW(plot("loss-share", "x.gif"), harness::UsageError);
}

// delta-vs-imbalance: alpha-CE (the baseline) and FL at 6 and at 24 classes, seeds 1-3. At 6
// classes FL's AP is the baseline fixture's (differences 2.5, 3.2, 1.8: paired [+0.8, +4.2], see
// above); at 24 classes FL is below by 1.0, 1.0 and 1.5: mean -1.17, sd 0.289, t(2) = 4.3027,
// half-width 0.717: [-1.9, -0.4].
TEST(Plots, DeltaVsImbalancePairsEachConfigurationWithItsBaseline) {
  testing::TempDir dir;
  std::vector<harness::TrialSpec> trials;
  std::vector<double> aps;
  const std::vector<std::pair<int64_t, int64_t>> settings = {{6, 1}, {24, 4}};
  const double ap[2][2][3] = {{{.355, .369, .374}, {.380, .401, .392}},
                              {{.300, .310, .320}, {.290, .300, .305}}};
  for (size_t s = 0; s < settings.size(); ++s) {
    for (int loss = 0; loss < 2; ++loss) {
      for (int64_t seed : {1, 2, 3}) {
        harness::TrialConfig c;
        c.data.num_classes = settings[s].first;
        c.data.class_colors = settings[s].second;
        c.data.train_images = 64;
        c.loss.kind = loss == 0 ? harness::LossKind::kAlphaCe : harness::LossKind::kFocal;
        c.loss.alpha = loss == 0 ? 0.75 : 0.25;
        c.seed = seed;
        harness::finalize_config(c, "fixture");
        trials.push_back({c, harness::config_to_json(c),
                          fmt::format("k{}l{}s{}", settings[s].first, loss, seed), {}});
        aps.push_back(ap[s][loss][seed - 1]);
      }
    }
  }
  const std::string path = done_sweep(dir, "imb.db", "imb", trials, aps);
  PlotOptions o;
  o.db_path = path;
  o.kind = "delta-vs-imbalance";
  o.out = dir.file("imb.svg");
  o.baseline = "loss.kind=alpha_ce";
  EXPECT_THROW(make_plot(o), harness::UsageError);  // no measure of imbalance given
  o.negatives_per_positive = [](const harness::TrialConfig& c) {  // as `focalab plot` measures
    return harness::compute_data_stats(c, 512).negatives_per_positive();
  };
  const std::string said = make_plot(o);
  EXPECT_NE(said.find("1 panel(s), 2 series"), std::string::npos) << said;  // FL, and the 0 line
  // The x values: focalab data stats of each data setting (64 training images).
  auto stats_of = [](int64_t k, int64_t colors) {
    harness::TrialConfig c;
    c.data.num_classes = k;
    c.data.class_colors = colors;
    c.data.train_images = 64;
    harness::finalize_config(c, "stats");
    return harness::compute_data_stats(c, 512).negatives_per_positive();
  };
  const double x6 = stats_of(6, 1), x24 = stats_of(24, 4);
  EXPECT_GT(x24 / x6, 3.5);  // four times the classes: about four times the negatives
  EXPECT_LT(x24 / x6, 4.5);
  EXPECT_NE(said.find(fmt::format("kind=focal gamma=2 alpha=0.25: {:.0f} negatives per positive: "
                                  "AP +2.5 [+0.8, +4.2] (paired, n 3)", x6)),
            std::string::npos) << said;
  EXPECT_NE(said.find(fmt::format("kind=focal gamma=2 alpha=0.25: {:.0f} negatives per positive: "
                                  "AP -1.2 [-1.9, -0.4] (paired, n 3)", x24)),
            std::string::npos) << said;
  o.out = dir.file("imb.pdf");
  make_plot(o);
  const std::string text = command_output(fmt::format("pdftotext -layout '{}' -", o.out));
  EXPECT_NE(text.find("kind=focal gamma=2 alpha=0.25 − baseline"), std::string::npos) << text;
  EXPECT_NE(text.find("binary negatives per positive (focalab data stats), log scale"),
            std::string::npos);
  EXPECT_NE(text.find("1,000"), std::string::npos);  // decade ticks
  o.baseline = "";
  EXPECT_THROW(make_plot(o), harness::UsageError);
  o.baseline = "loss.kind=ohem";
  EXPECT_THROW(make_plot(o), harness::UsageError);  // no baseline rows: nothing to compare
  o.baseline = "loss.kindd=ce";
  EXPECT_THROW(make_plot(o), harness::UsageError);
}

}  // namespace
}  // namespace focalab::reports
