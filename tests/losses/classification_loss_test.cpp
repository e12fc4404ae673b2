#include "losses/classification_loss.h"

#include <cmath>

#include "losses/focal_loss.h"
#include "losses/loss_breakdown.h"
#include "test_util.h"

namespace focalab::losses {
namespace {

// The paper's definition with plain doubles: FL = -alpha_t (1 - p_t)^gamma log(p_t).
double focal_formula(double x, double y, double gamma, double alpha) {
  const double p = 1 / (1 + std::exp(-x));
  const double pt = y > 0.5 ? p : 1 - p;
  const double at = alpha < 0 ? 1.0 : (y > 0.5 ? alpha : 1 - alpha);
  return -at * std::pow(1 - pt, gamma) * std::log(pt);
}

// Appendix B: dFL/dx = y (1 - p_t)^gamma (gamma p_t log(p_t) + p_t - 1), y in {-1, +1}, no alpha.
double focal_grad_formula(double x, double t, double gamma) {
  const double p = 1 / (1 + std::exp(-x));
  const double y = t > 0.5 ? 1 : -1;
  const double pt = t > 0.5 ? p : 1 - p;
  return y * std::pow(1 - pt, gamma) * (gamma * pt * std::log(pt) + pt - 1);
}

const std::vector<float> kLogits = {-3.f, -0.7f, 0.f, 0.4f, 2.5f, 6.f};
const std::vector<float> kTargets = {1.f, 0.f, 1.f, 0.f, 1.f, 0.f};

// Hand value: x = 0, target 1, gamma 2, alpha .25: p_t = .5 -> .25 * .25 * ln 2 = 0.0433217.
TEST(FocalLoss, GoldenValue) {
  auto l = sigmoid_focal_loss(torch::tensor({0.f}), torch::tensor({1.f}), 2.0, 0.25);
  EXPECT_NEAR(l.item<double>(), 0.0433217, 1e-6);
}

TEST(FocalLoss, MatchesFormulaAcrossGammaAndAlpha) {
  auto x = torch::tensor(kLogits);
  auto t = torch::tensor(kTargets);
  for (double gamma : {0.0, 0.5, 1.0, 2.0, 5.0}) {
    for (double alpha : {-1.0, 0.25, 0.75}) {
      auto l = sigmoid_focal_loss(x, t, gamma, alpha);
      for (size_t i = 0; i < kLogits.size(); ++i) {
        EXPECT_NEAR(l[static_cast<int64_t>(i)].item<double>(),
                    focal_formula(kLogits[i], kTargets[i], gamma, alpha), 1e-5)
            << "gamma " << gamma << " alpha " << alpha << " x " << kLogits[i];
      }
    }
  }
}

TEST(FocalLoss, GradientMatchesAppendixB) {
  for (double gamma : {0.0, 1.0, 2.0}) {
    auto x = torch::tensor(kLogits).to(torch::kDouble).requires_grad_(true);
    sigmoid_focal_loss(x, torch::tensor(kTargets).to(torch::kDouble), gamma, -1).sum().backward();
    for (size_t i = 0; i < kLogits.size(); ++i) {
      EXPECT_NEAR(x.grad()[static_cast<int64_t>(i)].item<double>(),
                  focal_grad_formula(kLogits[i], kTargets[i], gamma), 1e-9)
          << "gamma " << gamma << " x " << kLogits[i];
    }
  }
}

// Logits of +-100 must give finite loss and gradient (CE from logits, no log(sigmoid)).
TEST(FocalLoss, StableForExtremeLogits) {
  auto x = torch::tensor({-100.f, 100.f, -100.f, 100.f}).requires_grad_(true);
  auto t = torch::tensor({1.f, 0.f, 0.f, 1.f});
  auto l = sigmoid_focal_loss(x, t, 2.0, 0.25);
  EXPECT_TRUE(torch::isfinite(l).all().item<bool>());
  EXPECT_NEAR(l[0].item<double>(), 0.25 * 100, 1e-3);  // confidently wrong positive: alpha * |x|
  EXPECT_NEAR(l[2].item<double>(), 0.0, 1e-6);         // confidently right negative
  l.sum().backward();
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
}

// CE is the gamma = 0, no-alpha case; alpha-CE weights positives by alpha, negatives by 1-alpha.
TEST(ClassificationLoss, KindsDispatch) {
  auto x = torch::tensor(kLogits).view({2, 3});
  auto t = torch::tensor(kTargets).view({2, 3});
  auto ce = classification_loss(CrossEntropyOptions{}, x, t);
  auto bce = torch::binary_cross_entropy_with_logits(x, t, {}, {}, at::Reduction::None);
  focalab::testing::expect_tensor_near(ce, bce);
  auto ace = classification_loss(AlphaBalancedCrossEntropyOptions{0.75}, x, t);
  focalab::testing::expect_tensor_near(ace, bce * (0.75 * t + 0.25 * (1 - t)));
  auto fl = classification_loss(FocalLossOptions{2.0, 0.25}, x, t);
  focalab::testing::expect_tensor_near(fl, sigmoid_focal_loss(x, t, 2.0, 0.25));
  EXPECT_EQ(loss_kind(FocalLossOptions{}), "focal");
  EXPECT_EQ(loss_kind(AlphaBalancedCrossEntropyOptions{}), "alpha_ce");
}

// The trainer's interface: for every kind, sum() is sum_i scales[i] * the elementwise loss over
// image i's scored anchors (labels >= -1), with one scale or per-image scales, and the
// accounting it fills adds up to the unscaled sum; select() changes labels only for OHEM.
TEST(ClassificationLoss, SumSelectAndAccountingForEveryKind) {
  torch::manual_seed(3);
  const int64_t n = 2, r = 50, k = 3;
  auto logits = torch::randn({n, r, k}) * 4;
  auto labels = torch::randint(-2, k, {n, r}, torch::kLong);  // -2 ignored, -1 background, class
  auto keep = (labels >= -1).unsqueeze(-1).to(torch::kFloat);
  auto onehot = one_hot_targets(labels, k, torch::kFloat);
  const std::vector<ClassificationLossOptions> kinds = {
      CrossEntropyOptions{}, AlphaBalancedCrossEntropyOptions{0.75}, FocalLossOptions{2.0, 0.25},
      FocalLossOptions{0.5, -1}, FocalStarOptions{2.0, 1.0, 0.25}, OhemOptions{4, 0.7, 0}};
  const std::vector<std::string> names = {"ce", "alpha_ce", "focal", "focal", "focal_star", "ohem"};
  for (size_t i = 0; i < kinds.size(); ++i) {
    SCOPED_TRACE(names[i]);
    const ClassificationLoss loss(kinds[i]);
    EXPECT_EQ(loss.kind(), names[i]);
    auto elem = loss.elementwise(logits.reshape({-1, k}), onehot.reshape({-1, k})).view({n, r, k});
    const double per0 = (elem[0] * keep[0]).sum().item<double>();
    const double per1 = (elem[1] * keep[1]).sum().item<double>();
    for (const std::vector<double>& scales : {std::vector<double>{0.1, 0.1}, {0.5, 0.25}}) {
      LossBreakdown breakdown(k);
      const double got = loss.sum(logits, labels, scales, &breakdown).item<double>();
      EXPECT_NEAR(got, scales[0] * per0 + scales[1] * per1, 1e-4 * (per0 + per1));
      breakdown.finish_iteration(0, 1.0);
      const auto sums = breakdown.take();
      double accounted = 0;
      for (auto c : {LossCategory::kPositive, LossCategory::kHardNegative,
                     LossCategory::kEasyNegative}) {
        accounted += sums.total_loss(c);
      }
      EXPECT_NEAR(accounted, per0 + per1, 1e-4 * (per0 + per1));
      EXPECT_EQ(sums.total_count(LossCategory::kPositive), (labels >= 0).sum().item<double>());
    }
  }
  // OHEM trains CE on what it selects
  const ClassificationLoss ohem(OhemOptions{});
  focalab::testing::expect_tensor_near(
      ohem.elementwise(logits[0], onehot[0]),
      torch::binary_cross_entropy_with_logits(logits[0], onehot[0], {}, {}, at::Reduction::None));
}

TEST(FocalLoss, RejectsNegativeGammaAndShapeMismatch) {
  EXPECT_THROW(sigmoid_focal_loss(torch::zeros({2}), torch::zeros({2}), -1.0, 0.25), c10::Error);
  EXPECT_THROW(sigmoid_focal_loss(torch::zeros({2}), torch::zeros({3}), 2.0, 0.25), c10::Error);
}

}  // namespace
}  // namespace focalab::losses

namespace focalab::losses {
namespace {

// FL* (paper Appendix A): FL* = -log(sigmoid(gamma* x_t + beta)) / gamma*, x_t = y x, and
// (Appendix B) dFL*/dx = y (p*_t - 1), p*_t = sigmoid(gamma* x_t + beta). Without alpha.
TEST(FocalStarLoss, ValueAndGradientMatchAppendix) {
  const std::vector<double> xs = {-3.0, -0.5, 0.0, 0.7, 4.0};
  const std::vector<double> ts = {1, 0, 1, 1, 0};
  for (auto [g, b] : {std::pair{2.0, 1.0}, std::pair{4.0, 0.0}}) {
    auto x = torch::tensor(xs, torch::kDouble).requires_grad_(true);
    auto l = focal_star_loss(x, torch::tensor(ts, torch::kDouble), g, b, -1.0);
    l.sum().backward();
    for (size_t i = 0; i < xs.size(); ++i) {
      const double y = ts[i] > 0.5 ? 1 : -1;
      const double pstar = 1 / (1 + std::exp(-(g * y * xs[i] + b)));
      EXPECT_NEAR(l[static_cast<int64_t>(i)].item<double>(), -std::log(pstar) / g, 1e-12);
      EXPECT_NEAR(x.grad()[static_cast<int64_t>(i)].item<double>(), y * (pstar - 1), 1e-12);
    }
  }
  // Alpha weighting as in FL: alpha for positives, 1 - alpha for negatives.
  auto x = torch::tensor({1.0, 1.0}, torch::kDouble);
  auto t = torch::tensor({1.0, 0.0}, torch::kDouble);
  auto w = focal_star_loss(x, t, 2.0, 1.0, 0.25) / focal_star_loss(x, t, 2.0, 1.0, -1.0);
  EXPECT_NEAR(w[0].item<double>(), 0.25, 1e-12);
  EXPECT_NEAR(w[1].item<double>(), 0.75, 1e-12);
  EXPECT_EQ(loss_kind(FocalStarOptions{}), "focal_star");
}

}  // namespace
}  // namespace focalab::losses
