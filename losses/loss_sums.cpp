#include "losses/loss_sums.h"

namespace focalab::losses {

const char* category_name(LossCategory category) {
  switch (category) {
    case LossCategory::kPositive: return "positive";
    case LossCategory::kHardNegative: return "hard_negative";
    case LossCategory::kEasyNegative: return "easy_negative";
  }
  return "unknown";
}

double LossBreakdownSums::total_count(LossCategory c) const {
  double s = 0;
  for (int64_t k = 0; k < num_classes; ++k) s += count_at(c, k);
  return s;
}

double LossBreakdownSums::total_loss(LossCategory c) const {
  double s = 0;
  for (int64_t k = 0; k < num_classes; ++k) s += loss_at(c, k);
  return s;
}

const char* group_name(HistogramGroup group) {
  switch (group) {
    case HistogramGroup::kPositive: return "positive";
    case HistogramGroup::kBackground: return "background";
    case HistogramGroup::kNearObject: return "near_object";
  }
  return "unknown";
}

}  // namespace focalab::losses
