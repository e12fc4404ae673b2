#pragma once
// Box regression losses on encoded deltas (positive anchors only; the caller selects them).

#include <torch/types.h>

namespace focalab::losses {

struct BoxLossOptions {
  // Smooth-L1 transition point beta; 0 gives plain L1 (detectron2, torchvision).
  // Default: 0.11 (Detectron's RetinaNet).
  double beta = 0.11;
};

// Sum over all elements of smooth L1(pred - target): 0.5 x^2 / beta if |x| < beta, else
// |x| - 0.5 beta. pred, target: [P, 4]. Returns a scalar.
torch::Tensor smooth_l1_loss_sum(const torch::Tensor& pred, const torch::Tensor& target,
                                 const BoxLossOptions& options);

}  // namespace focalab::losses
