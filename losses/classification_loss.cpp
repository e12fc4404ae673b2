#include "losses/classification_loss.h"

#include <torch/torch.h>

#include <algorithm>

#include "losses/focal_loss.h"
#include "losses/loss_breakdown.h"

namespace focalab::losses {

namespace {
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;
}  // namespace

std::string loss_kind(const ClassificationLossOptions& options) {
  return std::visit(Overloaded{[](const CrossEntropyOptions&) { return std::string("ce"); },
                               [](const AlphaBalancedCrossEntropyOptions&) {
                                 return std::string("alpha_ce");
                               },
                               [](const FocalLossOptions&) { return std::string("focal"); },
                               [](const FocalStarOptions&) { return std::string("focal_star"); },
                               [](const OhemOptions&) { return std::string("ohem"); }},
                    options);
}

torch::Tensor sigmoid_focal_loss(const torch::Tensor& logits, const torch::Tensor& targets,
                                 double gamma, double alpha) {
  TORCH_CHECK(logits.sizes() == targets.sizes(), "sigmoid_focal_loss: logits ", logits.sizes(),
              " and targets ", targets.sizes(), " must have the same shape");
  TORCH_CHECK(gamma >= 0, "sigmoid_focal_loss: gamma must be >= 0, got ", gamma);
  auto t = targets.to(logits.scalar_type());
  // -log(p_t) from logits: binary_cross_entropy_with_logits is stable for any logit.
  auto ce = torch::binary_cross_entropy_with_logits(logits, t, {}, {}, at::Reduction::None);
  auto loss = ce;
  if (gamma != 0) {
    auto p = torch::sigmoid(logits);
    auto one_minus_pt = p * (1 - t) + (1 - p) * t;  // 1 - p_t
    loss = ce * one_minus_pt.pow(gamma);
  }
  if (alpha >= 0) {
    loss = (alpha * t + (1 - alpha) * (1 - t)) * loss;
  }
  return loss;
}

torch::Tensor focal_star_loss(const torch::Tensor& logits, const torch::Tensor& targets,
                              double gamma_star, double beta, double alpha) {
  TORCH_CHECK(logits.sizes() == targets.sizes(), "focal_star_loss: logits ", logits.sizes(),
              " and targets ", targets.sizes(), " must have the same shape");
  TORCH_CHECK(gamma_star > 0, "focal_star_loss: gamma* must be > 0, got ", gamma_star);
  auto t = targets.to(logits.scalar_type());
  auto xt = logits * (2 * t - 1);
  // -log(sigmoid(v)) = softplus(-v), stable for any v.
  auto loss = torch::softplus(-(gamma_star * xt + beta), 1.0, 20.0) / gamma_star;
  if (alpha >= 0) loss = (alpha * t + (1 - alpha) * (1 - t)) * loss;
  return loss;
}

torch::Tensor classification_loss(const ClassificationLossOptions& options,
                                  const torch::Tensor& logits, const torch::Tensor& targets) {
  return std::visit(
      Overloaded{[&](const CrossEntropyOptions&) {
                   return sigmoid_focal_loss(logits, targets, 0.0, -1.0);
                 },
                 [&](const AlphaBalancedCrossEntropyOptions& o) {
                   return sigmoid_focal_loss(logits, targets, 0.0, o.alpha);
                 },
                 [&](const FocalLossOptions& o) {
                   return sigmoid_focal_loss(logits, targets, o.gamma, o.alpha);
                 },
                 [&](const FocalStarOptions& o) {
                   return focal_star_loss(logits, targets, o.gamma_star, o.beta, o.alpha);
                 },
                 [&](const OhemOptions&) {
                   return sigmoid_focal_loss(logits, targets, 0.0, -1.0);
                 }},
      options);
}

ClassificationLoss::ClassificationLoss(ClassificationLossOptions options)
    : options_(std::move(options)) {
  // ce, alpha_ce, focal and ohem (CE on the selected anchors) are all the fused focal loss
  if (const auto* a = std::get_if<AlphaBalancedCrossEntropyOptions>(&options_)) alpha_ = a->alpha;
  if (const auto* f = std::get_if<FocalLossOptions>(&options_)) {
    gamma_ = f->gamma;
    alpha_ = f->alpha;
  }
}

torch::Tensor ClassificationLoss::sum(const torch::Tensor& cls_logits, const torch::Tensor& labels,
                                      const std::vector<double>& scales,
                                      LossBreakdown* breakdown) const {
  const int64_t n = cls_logits.size(0), k = cls_logits.size(2);
  TORCH_CHECK(static_cast<int64_t>(scales.size()) == n, "ClassificationLoss::sum: ", n,
              " images but ", scales.size(), " scales");
  if (const auto* fs = std::get_if<FocalStarOptions>(&options_)) {
    auto keep = labels >= -1;
    auto onehot = one_hot_targets(labels, k, cls_logits.scalar_type());
    auto elem = focal_star_loss(cls_logits, onehot, fs->gamma_star, fs->beta, fs->alpha);
    auto weights = torch::tensor(scales, cls_logits.options()).view({n, 1, 1});
    if (breakdown) {
      breakdown->accumulate(elem.index({keep}), cls_logits.index({keep}), onehot.index({keep}));
    }
    return (elem * keep.unsqueeze(-1) * weights).sum();
  }
  if (std::all_of(scales.begin(), scales.end(), [&](double s) { return s == scales[0]; })) {
    return focal_loss_sum(cls_logits.reshape({-1, k}), labels.reshape({-1}), gamma_, alpha_,
                          scales[0], breakdown);
  }
  auto loss = torch::zeros({}, cls_logits.options());
  for (int64_t i = 0; i < n; ++i) {
    loss = loss + focal_loss_sum(cls_logits[i], labels[i], gamma_, alpha_,
                                 scales[static_cast<size_t>(i)], breakdown);
  }
  return loss;
}

torch::Tensor ClassificationLoss::elementwise(const torch::Tensor& logits,
                                              const torch::Tensor& targets) const {
  return classification_loss(options_, logits, targets);
}

}  // namespace focalab::losses
