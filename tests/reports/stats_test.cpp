// The interval arithmetic of `report --baseline`, against values computed independently with
// scipy 1.10.1 (scipy.stats.t.ppf / t.cdf, scipy.special.betainc, scipy.stats.ttest_rel(...)
// .confidence_interval(0.95), and Welch's interval from numpy's var(ddof=1) with t.ppf), each
// quoted below with the expression that produced it.
#include <gtest/gtest.h>

#include <vector>

#include "reports/stats.h"

namespace focalab::reports {
namespace {

TEST(Stats, StudentTQuantilesMatchTheTable) {
  // scipy.stats.t.ppf(0.975, df)
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706204736432095, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.302652729911275, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.7764451051977987, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 9), 2.2621571627409915, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.0422724563012373, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 3.5), 2.9400886379827775, 1e-9);  // fractional (Welch)
  EXPECT_NEAR(student_t_quantile(0.995, 5), 4.032142983557536, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.025, 4), -2.7764451051977987, 1e-9);
  EXPECT_EQ(student_t_quantile(0.5, 7), 0.0);
}

TEST(Stats, StudentTCdfAndIncompleteBeta) {
  EXPECT_NEAR(student_t_cdf(1.5, 3), 0.8847080673775886, 1e-12);    // t.cdf(1.5, 3)
  EXPECT_NEAR(student_t_cdf(-2.0, 7.25), 0.04210554128962584, 1e-12);  // t.cdf(-2.0, 7.25)
  EXPECT_NEAR(incomplete_beta(0.3, 2.5, 0.5), 0.01892712407194565, 1e-13);  // betainc(2.5,.5,.3)
  EXPECT_NEAR(incomplete_beta(0.9, 10, 3), 0.889130022255, 1e-11);  // betainc(10, 3, 0.9)
  EXPECT_EQ(incomplete_beta(0, 2, 3), 0.0);
  EXPECT_EQ(incomplete_beta(1, 2, 3), 1.0);
}

// AP of two configurations over the same three seeds.
const std::vector<double> kA = {38.0, 40.1, 39.2};
const std::vector<double> kB = {35.5, 36.9, 37.4};

TEST(Stats, PairedIntervalOverSeeds) {
  const auto ci = paired_interval(kA, kB);
  ASSERT_TRUE(ci.has_value());
  EXPECT_EQ(ci->method, "paired");
  EXPECT_EQ(ci->n, 3);
  EXPECT_DOUBLE_EQ(ci->df, 2);
  EXPECT_NEAR(ci->diff, 2.5, 1e-12);
  // ttest_rel(a, b).confidence_interval(0.95)
  EXPECT_NEAR(ci->lo, 0.7611036017093773, 1e-9);
  EXPECT_NEAR(ci->hi, 4.238896398290628, 1e-9);
  EXPECT_TRUE(ci->significant());
  EXPECT_FALSE(paired_interval({1.0}, {2.0}).has_value());       // one pair: no interval
  EXPECT_FALSE(paired_interval({1.0, 2.0}, {2.0}).has_value());  // unpaired lengths
}

TEST(Stats, WelchIntervalOfTwoMeans) {
  const auto ci = welch_interval(kA, kB);
  ASSERT_TRUE(ci.has_value());
  EXPECT_EQ(ci->method, "welch");
  // df = (va + vb)^2 / (va^2 / 2 + vb^2 / 2), va = var(a, ddof=1) / 3, vb likewise
  EXPECT_NEAR(ci->df, 3.9819604233778176, 1e-9);
  EXPECT_NEAR(ci->diff, 2.5, 1e-12);
  EXPECT_NEAR(ci->lo, 0.18401106817917245, 1e-8);
  EXPECT_NEAR(ci->hi, 4.8159889318208275, 1e-8);
  // The same data ignoring the pairing is wider, and a difference inside the spread is not
  // significant.
  const auto wide = welch_interval({38.0, 40.1, 39.2}, {37.5, 40.9, 38.4});
  ASSERT_TRUE(wide.has_value());
  EXPECT_FALSE(wide->significant());
  EXPECT_FALSE(welch_interval({1.0}, {2.0, 3.0}).has_value());
  EXPECT_FALSE(welch_interval({1.0, 1.0}, {2.0, 2.0}).has_value());  // no spread at all
}

TEST(Stats, NormalQuantileAndBootstrapInterval) {
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-12);  // scipy.stats.norm.ppf(0.975)
  EXPECT_NEAR(normal_quantile(0.05), -1.6448536269514729, 1e-12);  // norm.ppf(0.05)
  // estimate 10, replicates 1, 2, 3, 4: sample sd sqrt(5 / 3) = 1.2909944; x 1.959964 = 2.530303
  const auto one = bootstrap_interval(10, {1, 2, 3, 4}, {});
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->method, "bootstrap");
  EXPECT_EQ(one->n, 4);
  EXPECT_NEAR(one->lo, 10 - 2.5303034, 1e-6);
  EXPECT_NEAR(one->hi, 10 + 2.5303034, 1e-6);
  // paired: the differences 1, 1, 1, 2 (sd 0.5) around the estimate 1.5: 1.5 -+ 0.979982
  const auto paired = bootstrap_interval(1.5, {2, 3, 4, 6}, {1, 2, 3, 4});
  ASSERT_TRUE(paired.has_value());
  EXPECT_NEAR(paired->lo, 1.5 - 0.979982, 1e-6);
  EXPECT_TRUE(paired->significant());
  EXPECT_FALSE(bootstrap_interval(1, {1}, {}).has_value());
  EXPECT_FALSE(bootstrap_interval(1, {1, 2}, {1}).has_value());
  EXPECT_DOUBLE_EQ(quantile({3, 1, 2, 4}, 0.5), 2.5);  // numpy.quantile([3,1,2,4], .5)
}

}  // namespace
}  // namespace focalab::reports
