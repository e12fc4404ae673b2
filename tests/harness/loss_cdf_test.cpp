// The Figure 4 curves of `analyze loss-cdf` (harness/loss_cdf): values worked out by hand from
// the paper's definition FL(p_t) = -(1 - p_t)^gamma log(p_t), the ordering of the curves for
// growing gamma, and finiteness for extreme logits.

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "harness/eval/loss_cdf.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

double at_fraction(const LossCdfCurve& c, double f) {
  const auto it = std::find(c.fraction.begin(), c.fraction.end(), f);
  EXPECT_NE(it, c.fraction.end()) << f;
  return c.cumulative[static_cast<size_t>(it - c.fraction.begin())];
}

// Four examples with p_t = 0.9, 0.75, 0.5, 0.25 (s = log(p_t / (1 - p_t))), given out of order.
// gamma 0: losses -log p_t = 0.1053605, 0.2876821, 0.6931472, 1.3862944 (sum 2.4724842), so the
// easiest 1, 2, 3 carry 0.0426132, 0.1589667, 0.4393111 of it. gamma 2: the losses times
// (1 - p_t)^2 = 0.01, 0.0625, 0.25, 0.5625 -> 0.0010536, 0.0179801, 0.1732868, 0.7797906 (sum
// 0.9721111) -> 0.0010838, 0.0195798, 0.1978380. In both the hardest one carries half.
TEST(LossCdf, HandWorkedValues) {
  const auto s = torch::tensor({0.0, std::log(9.0), -std::log(3.0), std::log(3.0)});
  const auto ce = cumulative_loss_curve(s, 0);
  EXPECT_EQ(ce.count, 4);
  EXPECT_NEAR(at_fraction(ce, 0.0), 0.0, 1e-12);
  EXPECT_NEAR(at_fraction(ce, 0.25), 0.0426132, 1e-6);
  EXPECT_NEAR(at_fraction(ce, 0.5), 0.1589667, 1e-6);
  EXPECT_NEAR(at_fraction(ce, 0.75), 0.4393111, 1e-6);
  EXPECT_NEAR(at_fraction(ce, 1.0), 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(ce.hardest_half, 0.25);
  const auto fl = cumulative_loss_curve(s, 2);
  EXPECT_NEAR(at_fraction(fl, 0.25), 0.0010838, 1e-6);
  EXPECT_NEAR(at_fraction(fl, 0.5), 0.0195798, 1e-6);
  EXPECT_NEAR(at_fraction(fl, 0.75), 0.1978380, 1e-6);
  EXPECT_DOUBLE_EQ(fl.hardest_half, 0.25);
  EXPECT_EQ(fl.fraction, loss_cdf_fractions());
}

// Ten examples where the hardest carries less than half: 1 - hardest_half counts the easiest
// examples whose cumulative loss stays below half.
TEST(LossCdf, HardestHalfCountsExamples) {
  // equal losses: half of the loss needs half of the examples
  const auto same = cumulative_loss_curve(torch::zeros({10}), 0);
  EXPECT_DOUBLE_EQ(same.hardest_half, 0.5);
  EXPECT_NEAR(at_fraction(same, 0.3), 0.3, 1e-12);
}

// The loss of every example is a decreasing function of p_t and the ratio between gamma values,
// (1 - p_t)^(g2 - g1), is larger for harder examples: a larger gamma moves the share of the loss
// to the hard end, so its curve lies below at every fraction. Logits up to +-100 stay finite.
TEST(LossCdf, LargerGammaConcentratesTheLoss) {
  auto s = torch::cat({torch::linspace(-9, 15, 5000), torch::tensor({100.0, -100.0, 60.0, -60.0})});
  std::vector<LossCdfCurve> curves;
  for (double g : {0.0, 0.5, 1.0, 2.0, 5.0}) curves.push_back(cumulative_loss_curve(s, g));
  for (size_t k = 0; k < curves.size(); ++k) {
    const auto& c = curves[k];
    EXPECT_EQ(c.count, 5004);
    EXPECT_DOUBLE_EQ(c.cumulative.front(), 0.0);
    EXPECT_NEAR(c.cumulative.back(), 1.0, 1e-12);
    for (size_t i = 0; i < c.cumulative.size(); ++i) {
      ASSERT_TRUE(std::isfinite(c.cumulative[i]));
      if (i > 0) {
        EXPECT_GE(c.cumulative[i], c.cumulative[i - 1]);
      }
      if (k > 0) {
        EXPECT_LE(c.cumulative[i], curves[k - 1].cumulative[i] + 1e-12) << k << " " << i;
      }
    }
    if (k > 0) {
      EXPECT_LT(c.hardest_half, curves[k - 1].hardest_half);
    }
  }
  // this sample: the hardest 1% carry 15.8% of the loss under CE and 24.0% at gamma 5; half of
  // the loss sits in the hardest 6.3% of the examples under CE and in the hardest 3.3% at gamma 5
  // numpy on the same values (float32 like here, sums in float64): the hardest 1% carry 6.55928%
  // of the loss under CE and 7.32752% at gamma 5; half of it sits in the hardest 11.3110% and
  // 9.8921% of the examples
  EXPECT_NEAR(1 - at_fraction(curves[0], 0.99), 0.0655928, 1e-6);
  EXPECT_NEAR(1 - at_fraction(curves[4], 0.99), 0.0732752, 1e-6);
  EXPECT_NEAR(curves[0].hardest_half, 0.1131095, 1e-6);
  EXPECT_NEAR(curves[4].hardest_half, 0.0989209, 1e-6);
  EXPECT_THROW(cumulative_loss_curve(torch::zeros({0}), 2), std::invalid_argument);
}

}  // namespace
}  // namespace focalab::harness
