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

#include <array>
#include <vector>

namespace focalab::losses {

// Bin edges on q; bin b covers [edge[b], edge[b + 1]) (the last includes 1).
inline constexpr std::array<double, 16> kHistogramEdges = {
    0.0, 1e-4, 1e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
inline constexpr int kHistogramBins = static_cast<int>(kHistogramEdges.size()) - 1;

enum class HistogramGroup { kPositive = 0, kBackground = 1, kNearObject = 2 };
inline constexpr int kHistogramGroups = 3;
const char* group_name(HistogramGroup group);  // "positive", "background", "near_object"

struct LossHistogramSums {
  int64_t iterations = 0;     // iterations that contributed
  std::vector<double> count;  // [groups * bins] row-major
  std::vector<double> loss_sum;
  double count_at(HistogramGroup g, int bin) const { return count[index(g, bin)]; }
  double loss_at(HistogramGroup g, int bin) const { return loss_sum[index(g, bin)]; }
  static size_t index(HistogramGroup g, int bin) {
    return static_cast<size_t>(static_cast<int>(g) * kHistogramBins + bin);
  }
};

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
