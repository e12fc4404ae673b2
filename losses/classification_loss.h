#pragma once
// The classification losses compared by the focal-loss paper, all as sums over K independent
// sigmoid (binary) problems per anchor and all computed from logits for numerical stability:
//   ce        CE(p_t) = -log(p_t)
//   alpha_ce  -alpha_t log(p_t)                           (paper §3.1)
//   focal     -alpha_t (1 - p_t)^gamma log(p_t)           (paper §3.2, eq. 5)
//   focal_star  alpha_t * -log(sigmoid(gamma* x_t + beta)) / gamma*   (FL*, paper Appendix A),
//             x_t = y x with y = +1 for target 1 and -1 for target 0
// with p_t = p for target 1 and 1 - p for target 0, alpha_t = alpha for target 1 and 1 - alpha
// for target 0. These are the composed reference implementations (autograd gradients), used for
// FL* by the trainer and as the reference in tests; CE, alpha-CE and FL train through the fused
// op of focal_loss.h. Reduction and normalization are the caller's.

#include <torch/types.h>

#include <string>
#include <variant>

namespace focalab::losses {

struct CrossEntropyOptions {};

struct AlphaBalancedCrossEntropyOptions {
  // Weight of the positive class; negatives get 1 - alpha. Default: 0.75 (best in Table 1(a)).
  double alpha = 0.75;
};

struct FocalLossOptions {
  // Focusing parameter gamma >= 0; 0 is alpha-balanced CE. Default: 2 (paper).
  double gamma = 2.0;
  // Positive-class weight; < 0 disables alpha weighting. Default: 0.25 (paper).
  double alpha = 0.25;
};

struct FocalStarOptions {
  // gamma* > 0. Default: 4 (paper Table 3, with beta 0: 33.9 AP).
  double gamma_star = 4.0;
  // beta. Default: 0.
  double beta = 0.0;
  // Positive-class weight; < 0 disables. Default: 0.25 (paper Table 3).
  double alpha = 0.25;
};

using ClassificationLossOptions = std::variant<CrossEntropyOptions, AlphaBalancedCrossEntropyOptions,
                                               FocalLossOptions, FocalStarOptions>;

// "ce", "alpha_ce", "focal" or "focal_star".
std::string loss_kind(const ClassificationLossOptions& options);

// Elementwise sigmoid focal loss (torchvision's sigmoid_focal_loss, reduction "none").
// logits, targets: same shape, targets in {0, 1}. alpha < 0: no alpha weighting.
torch::Tensor sigmoid_focal_loss(const torch::Tensor& logits, const torch::Tensor& targets,
                                 double gamma, double alpha);

// Elementwise FL* (autograd gives dFL*/dx = y (p*_t - 1), p*_t = sigmoid(gamma* x_t + beta)).
torch::Tensor focal_star_loss(const torch::Tensor& logits, const torch::Tensor& targets,
                              double gamma_star, double beta, double alpha);

// Elementwise loss of the chosen kind. logits, targets: [M, K] -> [M, K].
torch::Tensor classification_loss(const ClassificationLossOptions& options,
                                  const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace focalab::losses
