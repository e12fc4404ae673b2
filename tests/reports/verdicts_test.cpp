// Verdicts on claims (reports/verdicts.h) from rows with known AP per seed. The intervals behind
// them: focal gamma 2 minus alpha-CE .75 per seed 2.5, 3.2, 1.8 -> paired 95% interval
// [0.761, 4.239] (scipy 1.10.1 ttest_rel(...).confidence_interval(0.95), as in stats_test);
// the other differences are checked by their sign only, each far from 0 or straddling it:
// gamma 2 - gamma 0 = 8.0, 9.1, 8.7; gamma 2 - gamma 5 = 5.0, 6.1, 5.7; gamma 2 - gamma 1 = 2.0,
// 3.1, 2.7 ([1.22, 3.98]); gamma 1 - alpha-CE = 0.5, 0.1, -0.9 (straddles 0).
#include "reports/verdicts.h"

#include <gtest/gtest.h>

namespace focalab::reports {
namespace {

using harness::Claim;
using harness::ClaimKind;
using harness::ConfigFilter;

ClaimRow row(const std::string& kind, double gamma, double alpha, std::vector<double> ap,
             int64_t diverged = 0) {
  ClaimRow r;
  r.config.loss.kind = *harness::enum_named<harness::LossKind>(kind);
  r.config.loss.gamma = gamma;
  r.config.loss.alpha = alpha;
  for (size_t i = 0; i < ap.size(); ++i) r.metric_by_seed["AP"][static_cast<int64_t>(i + 1)] = ap[i];
  r.done = static_cast<int64_t>(ap.size());
  r.diverged = diverged;
  r.trials = r.done + diverged;
  return r;
}

ConfigFilter filter(const std::string& kind, std::optional<double> gamma = std::nullopt,
                    std::optional<double> alpha = std::nullopt) {
  ConfigFilter f;
  f.values.emplace_back("loss.kind", harness::ConfigValue(kind));
  if (gamma) f.values.emplace_back("loss.gamma", harness::ConfigValue(*gamma));
  if (alpha) f.values.emplace_back("loss.alpha", harness::ConfigValue(*alpha));
  return f;
}

Claim better(ConfigFilter a, ConfigFilter b) {
  Claim c;
  c.kind = ClaimKind::kBetter;
  c.subject = std::move(a);
  c.than = std::move(b);
  return c;
}

Claim peak(std::optional<double> at) {
  Claim c;
  c.kind = ClaimKind::kPeak;
  c.key = "loss.gamma";
  c.subject = filter("focal");
  if (at) c.at = harness::ConfigValue(*at);
  return c;
}

Claim of_kind(ClaimKind k, ConfigFilter f) {
  Claim c;
  c.kind = k;
  c.subject = std::move(f);
  return c;
}

const std::vector<ClaimRow> kRows = {
    row("alpha_ce", 0, 0.75, {35.5, 36.9, 37.4}), row("alpha_ce", 0, 0.1, {0.5, 0.7, 0.6}),
    row("focal", 0, 0.25, {30.0, 31.0, 30.5}),    row("focal", 1, 0.25, {36.0, 37.0, 36.5}),
    row("focal", 2, 0.25, {38.0, 40.1, 39.2}),    row("focal", 5, 0.25, {33.0, 34.0, 33.5}),
    row("ce", 0, -1, {}, 3)};

TEST(Verdicts, BetterByThePairedInterval) {
  const auto v = evaluate_claims({better(filter("focal", 2.0), filter("alpha_ce", {}, 0.75)),
                                  better(filter("alpha_ce", {}, 0.75), filter("focal", 2.0)),
                                  better(filter("focal", 1.0), filter("alpha_ce", {}, 0.75)),
                                  better(filter("focal", 7.0), filter("alpha_ce", {}, 0.75))},
                                 kRows);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].verdict, Verdict::kHolds);
  EXPECT_EQ(v[0].evidence, "AP +2.5 [+0.8, +4.2] (paired, n 3)");
  EXPECT_EQ(v[1].verdict, Verdict::kFails);
  EXPECT_EQ(v[1].evidence, "AP -2.5 [-4.2, -0.8] (paired, n 3)");
  EXPECT_EQ(v[2].verdict, Verdict::kInconclusive);
  EXPECT_EQ(v[3].verdict, Verdict::kInconclusive);
  EXPECT_EQ(v[3].evidence, "the sweep has 0 and 1 such configurations");
}

// close: the paired interval of focal gamma 2 minus alpha-CE .75, [0.761, 4.239] (scipy, above),
// inside +-5 holds, wholly beyond 0.5 fails, straddling 2 is inconclusive; either order of the
// two configurations gives the same verdicts.
TEST(Verdicts, CloseByThePairedInterval) {
  const auto close = [](ConfigFilter a, ConfigFilter b, double within) {
    Claim c = better(std::move(a), std::move(b));
    c.kind = ClaimKind::kClose;
    c.within = within;
    return c;
  };
  const auto fl = filter("focal", 2.0), ace = filter("alpha_ce", {}, 0.75);
  const auto v = evaluate_claims({close(fl, ace, 5), close(fl, ace, 0.5), close(fl, ace, 2),
                                  close(ace, fl, 5), close(ace, fl, 0.5), close(ace, fl, 2)},
                                 kRows);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0].verdict, Verdict::kHolds);
  EXPECT_EQ(v[0].evidence, "AP +2.5 [+0.8, +4.2] (paired, n 3); close: within ±5");
  EXPECT_EQ(v[1].verdict, Verdict::kFails);
  EXPECT_EQ(v[2].verdict, Verdict::kInconclusive);
  EXPECT_EQ(v[3].verdict, Verdict::kHolds);
  EXPECT_EQ(v[4].verdict, Verdict::kFails);
  EXPECT_EQ(v[5].verdict, Verdict::kInconclusive);
}

TEST(Verdicts, PeakInteriorAndAtItsValue) {
  const auto v = evaluate_claims({peak(std::nullopt), peak(2.0), peak(1.0)}, kRows);
  EXPECT_EQ(v[0].verdict, Verdict::kHolds) << v[0].evidence;
  EXPECT_EQ(v[0].evidence.substr(0, 40), "highest at loss.gamma=2 (AP 39.1); vs lo");
  EXPECT_EQ(v[1].verdict, Verdict::kHolds) << v[1].evidence;
  EXPECT_EQ(v[2].verdict, Verdict::kFails) << v[2].evidence;  // gamma 2 is significantly above 1
  EXPECT_NE(v[2].evidence.find("vs loss.gamma=1 (the claimed peak): +2.6 [+1.2, +4.0]"),
            std::string::npos)
      << v[2].evidence;
  // Without gamma 5 the curve only rises: the highest row is at the end, above both others.
  std::vector<ClaimRow> rising(kRows.begin(), kRows.begin() + 5);
  const auto m = evaluate_claims({peak(std::nullopt)}, rising);
  EXPECT_EQ(m[0].verdict, Verdict::kFails) << m[0].evidence;
  // With one seed a side, nothing is shown either way.
  std::vector<ClaimRow> single = {row("focal", 0, 0.25, {30}), row("focal", 1, 0.25, {36}),
                                  row("focal", 2, 0.25, {31})};
  EXPECT_EQ(evaluate_claims({peak(std::nullopt)}, single)[0].verdict, Verdict::kInconclusive);
}

TEST(Verdicts, CollapsesAndDiverges) {
  const auto v = evaluate_claims(
      {of_kind(ClaimKind::kCollapses, filter("alpha_ce", {}, 0.1)),
       of_kind(ClaimKind::kCollapses, filter("focal", 0.0)),
       of_kind(ClaimKind::kDiverges, filter("ce")), of_kind(ClaimKind::kDiverges, filter("focal", 2.0)),
       of_kind(ClaimKind::kCollapses, filter("ce"))},
      kRows);
  EXPECT_EQ(v[0].verdict, Verdict::kHolds);
  // mean 0.6, sd 0.1, t(2) = 4.3027: 0.6 -+ 0.248; the line is 0.1 x 39.1
  EXPECT_EQ(v[0].evidence, "AP 0.6 [0.4, 0.8] (t, n 3) vs 0.1 x the best 39.1 = 3.9");
  EXPECT_EQ(v[1].verdict, Verdict::kFails);
  EXPECT_EQ(v[2].verdict, Verdict::kHolds);
  EXPECT_EQ(v[2].evidence, "3 of 3 trial(s) diverged, 0 finished");
  EXPECT_EQ(v[3].verdict, Verdict::kFails);
  EXPECT_EQ(v[4].verdict, Verdict::kInconclusive);  // no finished trial to compare
  EXPECT_EQ(v[4].evidence, "no finished trial (3 diverged): see `diverges`");
  EXPECT_STREQ(verdict_name(Verdict::kInconclusive), "inconclusive");
}

// One seed a side: the paired bootstrap over the same val images stands in. FL 40.0 against
// alpha-CE 35.0; the replicates' differences 4, 5, 5, 6 (sd 0.8165, x 1.96 = 1.6003): 5.0
// [3.4, 6.6] holds. On other data (data.num_classes differs) there is no pairing: inconclusive.
TEST(Verdicts, OneSeedRowsUseThePairedBootstrap) {
  ClaimRow fl = row("focal", 2, 0.25, {40.0}), ace = row("alpha_ce", 0, 0.75, {35.0});
  fl.bootstrap["AP"] = {39, 41, 40, 42};
  ace.bootstrap["AP"] = {35, 36, 35, 36};
  const auto v = evaluate_claims({better(filter("focal", 2.0), filter("alpha_ce", {}, 0.75))},
                                 {fl, ace});
  EXPECT_EQ(v[0].verdict, Verdict::kHolds) << v[0].evidence;
  EXPECT_EQ(v[0].evidence, "AP +5.0 [+3.4, +6.6] (bootstrap, n 4)");
  ace.config.data.num_classes = 8;
  EXPECT_EQ(evaluate_claims({better(filter("focal", 2.0), filter("alpha_ce", {}, 0.75))}, {fl, ace})[0]
                .verdict,
            Verdict::kInconclusive);
}

}  // namespace
}  // namespace focalab::reports
