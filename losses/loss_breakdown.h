#pragma once
// Where the classification loss comes from. Every (anchor, class) element of a non-ignored anchor
// is one binary example in one category:
//   positive       target 1;
//   hard negative  target 0 and p >= hard_score (it would become a detection: a false-positive
//                  candidate at the inference score threshold);
//   easy negative  target 0 and p < hard_score.
// LossBreakdown accumulates, per category and per object class, the element count and the raw
// (unnormalized) loss sum over many iterations on the loss's device, and hands the sums out on
// take() — the store writes sums over a logging interval, never samples.

#include <torch/types.h>

#include "losses/loss_sums.h"

#include <array>
#include <vector>

namespace focalab::losses {


struct LossBreakdownOptions {
  // Probability at or above which a negative is hard. Default: 0.05 (the inference threshold).
  double hard_score = 0.05;
};


class LossBreakdown {
 public:
  explicit LossBreakdown(int64_t num_classes, LossBreakdownOptions options = {});

  // One iteration: accumulate() then finish_iteration().
  // elem_loss, logits, targets: [M, K] over the non-ignored anchors of one iteration.
  void add(const torch::Tensor& elem_loss, const torch::Tensor& logits,
           const torch::Tensor& targets, int64_t ignored_anchors, double normalizer);
  // Adds the elements' counts and raw loss sums (may be called several times per iteration).
  void accumulate(const torch::Tensor& elem_loss, const torch::Tensor& logits,
                  const torch::Tensor& targets);
  // Adds precomputed sums (e.g. from the fused kernel): counts and raw loss sums, both [3, K]
  // double, rows in LossCategory order.
  void add_sums(const torch::Tensor& counts, const torch::Tensor& loss_sums);
  // Closes an iteration: counts it, its ignored anchors and its normalizer.
  void finish_iteration(int64_t ignored_anchors, double normalizer);
  const LossBreakdownOptions& options() const { return options_; }
  // Returns the sums since the last take() and resets them.
  LossBreakdownSums take();
  // Replaces the running sums by `sums` (what take() returned; a checkpoint taken mid-interval),
  // on `device`, so that accumulation continues exactly as if it had not stopped.
  void restore(const LossBreakdownSums& sums, const torch::Device& device);

 private:
  int64_t num_classes_;
  LossBreakdownOptions options_;
  torch::Tensor count_;     // [3, K] double on the loss's device
  torch::Tensor loss_sum_;  // [3, K] double
  int64_t iterations_ = 0;
  int64_t ignored_anchors_ = 0;
  double normalizer_sum_ = 0;
};

}  // namespace focalab::losses
