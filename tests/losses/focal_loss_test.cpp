#include "losses/focal_loss.h"

#include "losses/classification_loss.h"
#include "losses/kernel/focal_kernel.h"
#include "test_util.h"

#include <cmath>
#include <limits>

namespace focalab::losses {
namespace {

// Random logits with a tail of extreme values (+-100, +-30, 0) and random binary targets.
std::pair<torch::Tensor, torch::Tensor> inputs(int64_t m, int64_t k, uint64_t seed) {
  torch::manual_seed(seed);
  auto x = torch::randn({m, k}) * 4;
  auto flat = x.view({-1});
  const std::vector<float> extremes = {100.f, -100.f, 30.f, -30.f, 0.f, 17.f, -17.f};
  for (size_t i = 0; i < extremes.size() && static_cast<int64_t>(i) < flat.numel(); ++i) {
    flat[static_cast<int64_t>(i) * 3 % flat.numel()] = extremes[i];
  }
  auto t = (torch::rand({m, k}) < 0.3).to(torch::kFloat);
  return {x, t};
}

// Element-wise loss and gradient of the fused op equal the composed reference (the paper's
// formula as ATen ops, whose gradient is autograd's) in double precision.
void expect_matches_reference(double gamma, double alpha, Reduction reduction,
                              kernel::KernelPath path) {
  auto [x, t] = inputs(37, 13, 7);  // 13 classes: exercises the vector tail
  auto xf = x.clone().requires_grad_(true);
  auto out = sigmoid_focal_loss_fused(xf, t, gamma, alpha, reduction, path);
  auto xd = x.to(torch::kDouble).requires_grad_(true);
  auto ref_elem = sigmoid_focal_loss(xd, t.to(torch::kDouble), gamma, alpha);
  torch::Tensor ref = reduction == Reduction::kNone  ? ref_elem
                      : reduction == Reduction::kSum ? ref_elem.sum()
                                                     : ref_elem.mean();
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_TRUE(torch::allclose(out.to(torch::kDouble), ref, 1e-5, 1e-6))
      << "gamma " << gamma << " alpha " << alpha << " max diff "
      << (out.to(torch::kDouble) - ref).abs().max().item<double>();
  // A non-uniform upstream gradient for 'none'.
  auto w = reduction == Reduction::kNone ? torch::rand_like(x) : torch::ones({});
  (out * w).sum().backward();
  (ref * w.to(torch::kDouble)).sum().backward();
  // The composed reference's autograd gives NaN where (1 - p_t) underflows to 0 and
  // gamma < 1 (pow's derivative 0^(gamma-1) = inf times 0); compare where it is finite.
  auto finite = torch::isfinite(xd.grad());
  auto ours = xf.grad().to(torch::kDouble).index({finite});
  auto theirs = xd.grad().index({finite});
  EXPECT_GE(finite.sum().item<int64_t>(), x.numel() - 4);
  EXPECT_TRUE(torch::allclose(ours, theirs, 1e-5, 1e-7))
      << "gamma " << gamma << " alpha " << alpha << " max grad diff "
      << (ours - theirs).abs().max().item<double>();
  EXPECT_TRUE(torch::isfinite(xf.grad()).all().item<bool>());
}

// Each kernel path this CPU runs: its best (AVX-512 where available), AVX2, portable (a path
// the CPU lacks falls back to the best below it).
class FusedFocalLoss : public ::testing::TestWithParam<kernel::KernelPath> {
 protected:
  kernel::KernelPath path() const { return GetParam(); }
};

TEST_P(FusedFocalLoss, MatchesReferenceAcrossGammaAlphaReduction) {
  for (double gamma : {0.0, 0.5, 1.0, 2.0, 5.0}) {
    for (double alpha : {-1.0, 0.25, 0.75}) {
      for (auto r : {Reduction::kNone, Reduction::kSum, Reduction::kMean}) {
        expect_matches_reference(gamma, alpha, r, path());
      }
    }
  }
}

// The label form equals the dense form with one-hot targets; ignored rows (-2) add nothing and
// get zero gradient; `scale` multiplies loss and gradient.
TEST_P(FusedFocalLoss, LabelFormEqualsDenseForm) {
  const int64_t m = 50, k = 80;
  auto [x, t_unused] = inputs(m, k, 3);
  auto labels = torch::randint(-2, k, {m}, torch::kLong);
  labels[0] = -2;
  labels[1] = -1;
  labels[2] = k - 1;
  auto keep = labels != -2;
  auto onehot = torch::zeros({m, k});
  for (int64_t i = 0; i < m; ++i) {
    const int64_t l = labels[i].item<int64_t>();
    if (l >= 0) onehot[i][l] = 1;
  }
  auto xa = x.clone().requires_grad_(true);
  auto sum = focal_loss_sum(xa, labels, 2.0, 0.25, 0.5, nullptr, path());
  sum.backward();
  auto xb = x.clone().requires_grad_(true);
  auto dense = sigmoid_focal_loss_fused(xb, onehot, 2.0, 0.25, Reduction::kNone, path());
  auto expected = (dense * keep.unsqueeze(1)).sum() * 0.5;
  expected.backward();
  EXPECT_NEAR(sum.item<double>(), expected.item<double>(), 1e-4 * expected.item<double>());
  EXPECT_TRUE(torch::allclose(xa.grad(), xb.grad(), 1e-5, 1e-8));
  EXPECT_EQ(xa.grad()[0].abs().sum().item<float>(), 0.f);
}

// The accounting of the fused pass equals LossBreakdown::add on the same data, and its category
// sums add up to the total loss.
TEST_P(FusedFocalLoss, BreakdownInThePassMatchesSeparateAccounting) {
  const int64_t m = 64, k = 11;
  auto [x, t_unused] = inputs(m, k, 5);
  auto labels = torch::randint(-2, k, {m}, torch::kLong);
  LossBreakdown fused(k, {0.05}), separate(k, {0.05});
  auto total = focal_loss_sum(x, labels, 2.0, 0.25, 0.25, &fused, path());
  fused.finish_iteration((labels == -2).sum().item<int64_t>(), 4.0);
  auto keep = labels != -2;
  auto onehot = torch::zeros({m, k});
  for (int64_t i = 0; i < m; ++i) {
    const int64_t l = labels[i].item<int64_t>();
    if (l >= 0) onehot[i][l] = 1;
  }
  auto elem = sigmoid_focal_loss(x, onehot, 2.0, 0.25);
  separate.add(elem.index({keep}), x.index({keep}), onehot.index({keep}),
               (~keep).sum().item<int64_t>(), 4.0);
  auto a = fused.take(), b = separate.take();
  EXPECT_EQ(a.ignored_anchors, b.ignored_anchors);
  EXPECT_DOUBLE_EQ(a.normalizer_sum, 4.0);
  double all = 0;
  for (int c = 0; c < kNumLossCategories; ++c) {
    for (int64_t j = 0; j < k; ++j) {
      const auto cat = static_cast<LossCategory>(c);
      EXPECT_DOUBLE_EQ(a.count_at(cat, j), b.count_at(cat, j)) << c << " " << j;
      EXPECT_NEAR(a.loss_at(cat, j), b.loss_at(cat, j), 1e-4 + 1e-5 * b.loss_at(cat, j));
      all += a.loss_at(cat, j);
    }
  }
  EXPECT_NEAR(all * 0.25, total.item<double>(), 1e-4 * all);  // raw sums x scale = loss
}

// The same over many rows (several blocks and flushes of the kernel's accounting, a partial last
// block, ignored rows and positives in all of them) with logits near the hard threshold, for 20
// classes (VOC), 40 and 64 (3 and 4 vectors of 16), 80 (whole vectors), 91 (torchvision's COCO
// head: a partial last vector too), 96 (the most AVX-512's in-register accounting takes), 97 and
// 120 (the two-pass accounting), and for each compiled form of the modulating factor (gamma 0,
// 1, 2 and any other).
TEST_P(FusedFocalLoss, BreakdownOverManyRowsMatchesSeparateAccounting) {
  for (const int64_t k : {20, 40, 64, 80, 91, 96, 97, 120}) {
    for (const double gamma : {2.0, 0.0, 1.0, 1.5}) {
      SCOPED_TRACE(k);
      SCOPED_TRACE(gamma);
      const int64_t m = 1001;
      torch::manual_seed(11);
      auto x = torch::randn({m, k}) * 2 - 3;  // logit(0.05) = -2.94: about half the negatives hard
      auto labels = torch::full({m}, -1, torch::kLong);
      labels.index_put_({torch::randint(0, m, {60}, torch::kLong)},
                        torch::randint(0, k, {60}, torch::kLong));
      labels.index_put_({torch::randint(0, m, {40}, torch::kLong)}, -2);
      LossBreakdown fused(k, {0.05}), separate(k, {0.05});
      auto total = focal_loss_sum(x, labels, gamma, 0.25, 1.0, &fused, path());
      fused.finish_iteration(0, 1.0);
      auto keep = labels != -2;
      auto onehot = one_hot_targets(labels, k, torch::kFloat);
      auto elem = sigmoid_focal_loss(x, onehot, gamma, 0.25);
      separate.add(elem.index({keep}), x.index({keep}), onehot.index({keep}), 0, 1.0);
      auto a = fused.take(), b = separate.take();
      double all = 0;
      for (int c = 0; c < kNumLossCategories; ++c) {
        const auto cat = static_cast<LossCategory>(c);
        EXPECT_GT(a.total_count(cat), 0) << c;
        for (int64_t j = 0; j < k; ++j) {
          EXPECT_DOUBLE_EQ(a.count_at(cat, j), b.count_at(cat, j)) << c << " " << j;
          EXPECT_NEAR(a.loss_at(cat, j), b.loss_at(cat, j), 1e-4 + 1e-5 * b.loss_at(cat, j));
          all += a.loss_at(cat, j);
        }
      }
      EXPECT_NEAR(all, total.item<double>(), 1e-5 * all);
    }
  }
}

// Logits with no classes: zero loss, an empty gradient and an empty breakdown on every kernel,
// with and without accounting.
TEST_P(FusedFocalLoss, NoClassesGiveZeroLoss) {
  auto x = torch::zeros({5, 0}).requires_grad_(true);
  auto labels = torch::tensor({-1L, -2L, -1L, -1L, -2L});
  LossBreakdown breakdown(0, {0.05});
  auto loss = focal_loss_sum(x, labels, 2.0, 0.25, 1.0, &breakdown, path());
  EXPECT_EQ(loss.item<double>(), 0.0);
  EXPECT_EQ(focal_loss_sum(x, labels, 2.0, 0.25, 1.0, nullptr, path()).item<double>(), 0.0);
  loss.backward();
  EXPECT_EQ(x.grad().sizes(), x.sizes());
  breakdown.finish_iteration(2, 1.0);
  const auto sums = breakdown.take();
  EXPECT_TRUE(sums.count.empty());
  EXPECT_EQ(sums.ignored_anchors, 2);
}

// Extreme logits through the vector paths (rows of 40 classes: two whole vectors and a partial
// one), label and dense form, for each compiled modulating factor: finite loss and gradient, equal
// to the portable path's (which computes losses/focal_formula.h one element at a time).
TEST_P(FusedFocalLoss, ExtremeLogitsMatchThePortablePath) {
  const std::vector<float> values = {-1e4f, -100.f, -88.5f, -87.5f, -50.f, -17.f, 0.f,
                                     17.f,  50.f,   87.5f,  88.5f,  100.f, 1e4f};
  const int64_t m = 4, k = 40;
  auto x = torch::empty({m, k});
  for (int64_t i = 0; i < m * k; ++i) {
    x.view({-1})[i] = values[static_cast<size_t>((i * 7) % static_cast<int64_t>(values.size()))];
  }
  auto labels = torch::tensor({3L, -1L, 39L, 20L});
  auto dense = one_hot_targets(labels, k, torch::kFloat);
  for (const double gamma : {2.0, 0.0, 1.0, 1.5}) {
    SCOPED_TRACE(gamma);
    const auto run = [&](bool portable) {
      const auto p = portable ? kernel::KernelPath::kPortable : path();
      auto xl = x.clone().requires_grad_(true);
      auto xd = x.clone().requires_grad_(true);
      LossBreakdown breakdown(k, {0.05});
      auto sum = focal_loss_sum(xl, labels, gamma, 0.25, 1.0, &breakdown, p);
      sum.backward();
      auto elem = sigmoid_focal_loss_fused(xd, dense, gamma, 0.25, Reduction::kNone, p);
      elem.sum().backward();
      return std::make_tuple(sum.detach(), xl.grad(), elem.detach(), xd.grad());
    };
    const auto [sum, gl, elem, gd] = run(false);
    const auto [sum_p, gl_p, elem_p, gd_p] = run(true);
    for (const auto& t : {sum, gl, elem, gd}) EXPECT_TRUE(torch::isfinite(t).all().item<bool>());
    EXPECT_NEAR(sum.item<double>(), sum_p.item<double>(), 1e-5 * sum_p.item<double>());
    EXPECT_TRUE(torch::allclose(gl, gl_p, 1e-5, 1e-30));
    EXPECT_TRUE(torch::allclose(elem, elem_p, 1e-5, 1e-30));
    EXPECT_TRUE(torch::allclose(gd, gd_p, 1e-5, 1e-30));
  }
}

// A named path runs where the CPU has it and falls back to the best one below it otherwise; the
// default is the best.
TEST(FusedFocalLoss, PathsResolveToWhatTheCpuRuns) {
  using kernel::KernelPath;
  EXPECT_EQ(kernel::resolve_path(KernelPath::kPortable), KernelPath::kPortable);
  EXPECT_NE(kernel::resolve_path(KernelPath::kBest), KernelPath::kBest);
  EXPECT_EQ(fused_focal_kernel_name(), kernel::path_name(KernelPath::kBest));
#if defined(__x86_64__)
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  EXPECT_EQ(kernel::resolve_path(KernelPath::kAvx2),
            avx2 ? KernelPath::kAvx2 : KernelPath::kPortable);
  EXPECT_EQ(kernel::resolve_path(KernelPath::kBest),
            avx512 ? KernelPath::kAvx512 : avx2 ? KernelPath::kAvx2 : KernelPath::kPortable);
  EXPECT_STREQ(kernel::path_name(KernelPath::kAvx512), avx512 ? "AVX-512"
                                                       : avx2 ? "AVX2"
                                                              : "portable");
#endif
}

// x >= hard_logit_threshold(s) is sigmoid(x) >= s, sigmoid in float as LibTorch computes it,
// right at the boundary and at the ends of [0, 1].
TEST(FusedFocalLoss, HardThresholdIsTheSigmoidTest) {
  const auto sig = [](float v) { return torch::sigmoid(torch::tensor(v)).item<float>(); };
  for (float s : {0.05f, 0.5f, 0.3f, 0.9f, 1e-6f, 1e-30f}) {
    const float t = kernel::hard_logit_threshold(s);
    EXPECT_GE(sig(t), s) << s;
    EXPECT_LT(sig(std::nextafter(t, -INFINITY)), s) << s;
  }
  EXPECT_EQ(kernel::hard_logit_threshold(0.f), -INFINITY);
  const float one = kernel::hard_logit_threshold(1.f);
  EXPECT_EQ(sig(one), 1.f);
  EXPECT_LT(sig(std::nextafter(one, -INFINITY)), 1.f);
}

// A NaN logit yields NaN loss and gradient on both kernels (so divergence is detected), and
// labels outside [-2, K) are rejected instead of indexing out of bounds.
TEST_P(FusedFocalLoss, NanPropagatesAndBadLabelsAreRejected) {
  auto x = torch::zeros({3, 10});
  x[1][4] = std::numeric_limits<float>::quiet_NaN();
  auto xr = x.clone().requires_grad_(true);
  auto loss = focal_loss_sum(xr, torch::tensor({-1L, 4L, 2L}), 2.0, 0.25, 1.0, nullptr, path());
  EXPECT_TRUE(std::isnan(loss.item<float>()));
  loss.backward();
  EXPECT_TRUE(std::isnan(xr.grad()[1][4].item<float>()));
  EXPECT_TRUE(torch::isfinite(xr.grad()[0]).all().item<bool>());
  auto dense =
      sigmoid_focal_loss_fused(x, torch::zeros({3, 10}), 2.0, 0.25, Reduction::kNone, path());
  EXPECT_TRUE(std::isnan(dense[1][4].item<float>()));
  EXPECT_THROW(focal_loss_sum(x, torch::tensor({-1L, 10L, 2L}), 2.0, 0.25, 1.0, nullptr, path()),
               c10::Error);
  EXPECT_THROW(focal_loss_sum(x, torch::tensor({-3L, 0L, 2L}), 2.0, 0.25, 1.0, nullptr, path()),
               c10::Error);
}

INSTANTIATE_TEST_SUITE_P(Kernels, FusedFocalLoss,
                         ::testing::Values(kernel::KernelPath::kBest, kernel::KernelPath::kAvx2,
                                           kernel::KernelPath::kPortable),
                         [](const auto& info) {
                           return info.param == kernel::KernelPath::kBest   ? "Native"
                                  : info.param == kernel::KernelPath::kAvx2 ? "Avx2"
                                                                            : "Portable";
                         });

// Analytic gradient against finite differences (double precision takes the composed path).
TEST(FusedFocalLoss, GradcheckInDouble) {
  auto [x, t] = inputs(6, 5, 11);
  auto xd = (x / 4).to(torch::kDouble).requires_grad_(true);
  auto f = [&](const torch::Tensor& in) {
    return sigmoid_focal_loss_fused(in, t.to(torch::kDouble), 2.0, 0.25, Reduction::kSum);
  };
  f(xd).backward();
  auto g = xd.grad().clone();
  const double h = 1e-6;
  auto flat = xd.detach().view({-1});
  for (int64_t i = 0; i < flat.numel(); ++i) {
    auto plus = flat.clone(), minus = flat.clone();
    plus[i] += h;
    minus[i] -= h;
    const double num = (f(plus.view_as(xd)).item<double>() - f(minus.view_as(xd)).item<double>()) / (2 * h);
    EXPECT_NEAR(g.view({-1})[i].item<double>(), num, 1e-6) << "element " << i;
  }
}

// gamma = 0 without alpha is binary cross-entropy with logits; with alpha it is alpha-CE.
TEST(FusedFocalLoss, GammaZeroIsCrossEntropy) {
  auto [x, t] = inputs(20, 7, 13);
  auto bce = torch::binary_cross_entropy_with_logits(x, t, {}, {}, at::Reduction::None);
  EXPECT_TRUE(torch::allclose(sigmoid_focal_loss_fused(x, t, 0.0, -1.0), bce, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(sigmoid_focal_loss_fused(x, t, 0.0, 0.75),
                              bce * (0.75 * t + 0.25 * (1 - t)), 1e-5, 1e-6));
}

TEST(FusedFocalLoss, ExtremeLogitsStayFinite) {
  auto x = torch::tensor({{-100.f, 100.f, -1e4f, 1e4f}}).requires_grad_(true);
  auto t = torch::tensor({{1.f, 0.f, 0.f, 1.f}});
  auto l = sigmoid_focal_loss_fused(x, t, 2.0, 0.25);
  EXPECT_TRUE(torch::isfinite(l).all().item<bool>());
  EXPECT_NEAR(l[0][0].item<double>(), 25.0, 1e-3);  // alpha |x| for a confidently wrong positive
  EXPECT_NEAR(l[0][2].item<double>(), 0.0, 1e-12);
  l.sum().backward();
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
  EXPECT_NEAR(x.grad()[0][0].item<double>(), -0.25, 1e-6);  // dFL/dx -> -alpha as p -> 0
}

}  // namespace
}  // namespace focalab::losses
