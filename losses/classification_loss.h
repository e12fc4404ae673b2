#pragma once
// The classification losses compared by the focal-loss paper, all as sums over K independent
// sigmoid (binary) problems per anchor and all computed from logits for numerical stability:
//   ce        CE(p_t) = -log(p_t)
//   alpha_ce  -alpha_t log(p_t)                           (paper §3.1)
//   focal     -alpha_t (1 - p_t)^gamma log(p_t)           (paper §3.2, eq. 5)
//   focal_star  alpha_t * -log(sigmoid(gamma* x_t + beta)) / gamma*   (FL*, paper Appendix A),
//             x_t = y x with y = +1 for target 1 and -1 for target 0
//   ohem      CE on the examples online hard example mining selects (harness/train/ohem_sampler.h)
// with p_t = p for target 1 and 1 - p for target 0, alpha_t = alpha for target 1 and 1 - alpha
// for target 0. ClassificationLoss is what the trainer uses: one object per trial, whatever the
// kind. The free functions below are the composed reference implementations (autograd
// gradients), used for FL* and as the reference in tests; CE, alpha-CE, FL and OHEM's CE train
// through the fused op of focal_loss.h.

#include <torch/types.h>

#include <string>
#include <variant>
#include <vector>

namespace focalab::losses {

class LossBreakdown;

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

// OHEM trains CE on the anchors it selects; which ones is the training side's choice
// (harness/train/ohem_sampler.h), made with these.
struct OhemOptions {
  int64_t batch_size = 256;   // anchors kept per image
  double nms_thresh = 0.7;    // IoU of the NMS over scored anchors
  double pos_fraction = 0;    // 0: free; > 0: at most this fraction of positives, negatives fill
};

struct FocalStarOptions {
  // gamma* > 0. Default: 4 (paper Table 3, with beta 0: 33.9 AP).
  double gamma_star = 4.0;
  // beta. Default: 0.
  double beta = 0.0;
  // Positive-class weight; < 0 disables. Default: 0.25 (paper Table 3).
  double alpha = 0.25;
};

using ClassificationLossOptions =
    std::variant<CrossEntropyOptions, AlphaBalancedCrossEntropyOptions, FocalLossOptions,
                 FocalStarOptions, OhemOptions>;

// "ce", "alpha_ce", "focal", "focal_star" or "ohem".
std::string loss_kind(const ClassificationLossOptions& options);

// The classification loss of a trial, whatever its kind. Per-anchor labels throughout: class
// k >= 0 (positive for class k), -1 (background), -2 (ignored: no loss, zero gradient).
class ClassificationLoss {
 public:
  explicit ClassificationLoss(ClassificationLossOptions options);
  const ClassificationLossOptions& options() const { return options_; }
  std::string kind() const { return loss_kind(options_); }

  // sum_i scales[i] * (loss summed over image i's scored anchors x classes); cls_logits
  // [N, R, K], labels [N, R], scales: N values (1 / the normalizer, or per image). The raw
  // (unscaled) per-category and per-class sums are added to `breakdown` when it is given; the
  // caller closes the iteration with LossBreakdown::finish_iteration.
  torch::Tensor sum(const torch::Tensor& cls_logits, const torch::Tensor& labels,
                    const std::vector<double>& scales, LossBreakdown* breakdown) const;

  // Elementwise loss of [M, K] logits against 0/1 targets (the loss histogram, Figure 4).
  torch::Tensor elementwise(const torch::Tensor& logits, const torch::Tensor& targets) const;

 private:
  ClassificationLossOptions options_;
  double gamma_ = 0, alpha_ = -1;  // the fused loss's parameters (all kinds but focal_star)
};

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
