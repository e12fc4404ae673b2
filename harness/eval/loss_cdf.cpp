#include "harness/eval/loss_cdf.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "losses/focal_formula.h"

namespace focalab::harness {
inline namespace eval {

const std::vector<double>& loss_cdf_fractions() {
  static const std::vector<double> fractions = [] {
    std::vector<double> f;
    for (int i = 0; i < 200; ++i) f.push_back(i / 200.0);
    for (double e = 2.5; e <= 6.0; e += 0.5) f.push_back(1.0 - std::pow(10.0, -e));
    f.push_back(1.0);
    return f;
  }();
  return fractions;
}

LossCdfCurve cumulative_loss_curve(const torch::Tensor& signed_logits, double gamma) {
  if (signed_logits.numel() == 0) throw std::invalid_argument("cumulative_loss_curve: no examples");
  // p_t = sigmoid(s): the loss falls as s grows, so s descending is loss ascending.
  auto s = std::get<0>(signed_logits.to(torch::kCPU, torch::kDouble).reshape({-1}).sort(0, true));
  // FL = (1 - p_t)^gamma (-log p_t), the terms as losses/focal_formula.h computes them.
  const losses::FocalTerms<torch::Tensor> t = losses::focal_terms(s);
  auto loss = torch::exp(gamma * t.log_q) * t.ce;
  auto cum = loss.cumsum(0).contiguous();
  const double* c = cum.data_ptr<double>();
  const int64_t n = cum.numel();
  const double total = c[n - 1];
  LossCdfCurve curve;
  curve.gamma = gamma;
  curve.count = n;
  for (double f : loss_cdf_fractions()) {
    const auto m = std::min<int64_t>(n, std::llround(f * static_cast<double>(n)));
    curve.fraction.push_back(f);
    // A set whose loss underflows to 0 everywhere carries it evenly.
    curve.cumulative.push_back(total > 0 ? (m == 0 ? 0.0 : c[m - 1] / total)
                                         : static_cast<double>(m) / static_cast<double>(n));
  }
  // The most examples, easiest first, that carry at most half (to rounding); the rest, the
  // hardest, carry at least half.
  const int64_t easy = total > 0 ? std::upper_bound(c, c + n, total / 2 * (1 + 1e-12)) - c : n / 2;
  curve.hardest_half = static_cast<double>(n - easy) / static_cast<double>(n);
  return curve;
}

}  // namespace eval
}  // namespace focalab::harness
