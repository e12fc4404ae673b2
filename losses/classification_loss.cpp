#include "losses/classification_loss.h"

#include <torch/torch.h>

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
                               [](const FocalStarOptions&) { return std::string("focal_star"); }},
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
                 }},
      options);
}

}  // namespace focalab::losses
