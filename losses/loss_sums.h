#pragma once
// What the loss accounting hands out: the sums of a logging interval per category and class
// (LossBreakdown, losses/loss_breakdown.h) and per histogram bin (LossHistogram,
// losses/loss_histogram.h). Plain numbers without LibTorch: the store writes and reads them.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace focalab::losses {

enum class LossCategory { kPositive = 0, kHardNegative = 1, kEasyNegative = 2 };
inline constexpr int kNumLossCategories = 3;
const char* category_name(LossCategory category);  // "positive", "hard_negative", "easy_negative"

struct LossBreakdownSums {
  int64_t iterations = 0;
  int64_t ignored_anchors = 0;
  double normalizer_sum = 0;          // sum of the per-iteration normalizers
  std::vector<double> count;          // [3 * K] row-major (category, class)
  std::vector<double> loss_sum;       // [3 * K]
  int64_t num_classes = 0;
  double count_at(LossCategory c, int64_t k) const { return count[index(c, k)]; }
  double loss_at(LossCategory c, int64_t k) const { return loss_sum[index(c, k)]; }
  double total_count(LossCategory c) const;
  double total_loss(LossCategory c) const;

 private:
  size_t index(LossCategory c, int64_t k) const {
    return static_cast<size_t>(static_cast<int64_t>(c) * num_classes + k);
  }
};

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

}  // namespace focalab::losses
