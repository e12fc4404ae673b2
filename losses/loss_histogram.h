#pragma once
// A fixed-bin histogram of the classification loss over q = 1 - p_t, the probability given to
// the wrong answer (for a negative element its score p, for a positive 1 - p), per group:
// positives, negatives of background anchors (max IoU with any GT < 0.1) and negatives of
// near-object anchors (0.1 <= max IoU, below the matcher's background threshold). Each bin holds
// the element count and raw loss sum, so a query can re-split hard and easy negatives at any
// bin edge (the default hard_score 0.05 is one) and see where in the p_t range the loss sits.
//
// Computed from the element-wise loss with composed ops; the trainer fills it on the last
// iteration of every logging interval (a sample of iterations, not all of them) — see
// docs/ARCHITECTURE.md.

#include <torch/types.h>

#include "losses/loss_sums.h"

#include <array>
#include <vector>

namespace focalab::losses {


class LossHistogram {
 public:
  // near_object_iou: the lower IoU bound of the near-object band. Default: 0.1.
  explicit LossHistogram(double near_object_iou = 0.1) : near_object_iou_(near_object_iou) {}

  // elem_loss, logits, targets: [M, K] for M non-ignored anchors; max_iou: [M] each anchor's
  // best IoU with any GT.
  void add(const torch::Tensor& elem_loss, const torch::Tensor& logits,
           const torch::Tensor& targets, const torch::Tensor& max_iou);
  // The sums since the last take(); resets them.
  LossHistogramSums take();

 private:
  double near_object_iou_;
  torch::Tensor count_, loss_sum_;  // [groups * bins] double
  int64_t iterations_ = 0;
};

}  // namespace focalab::losses
