#include "models/anchors/matcher.h"

#include <torch/torch.h>

namespace focalab::models {
inline namespace anchors {

Matcher::Matcher(MatcherOptions options) : options_(options) {
  TORCH_CHECK(options_.bg_iou <= options_.fg_iou, "Matcher: bg_iou (", options_.bg_iou,
              ") must be <= fg_iou (", options_.fg_iou, ")");
}

MatchResult Matcher::operator()(const torch::Tensor& iou) const {
  TORCH_CHECK(iou.dim() == 2, "Matcher: iou must be [G, R], got ", iou.sizes());
  const int64_t num_anchors = iou.size(1);
  auto long_opts = torch::dtype(torch::kLong).device(iou.device());
  if (iou.size(0) == 0) {
    return {torch::zeros({num_anchors}, long_opts),
            torch::zeros({num_anchors}, torch::dtype(torch::kChar).device(iou.device()))};
  }
  auto [best_iou, matched_idx] = iou.max(0);  // [R], [R]
  auto labels = torch::full({num_anchors}, -1, torch::dtype(torch::kChar).device(iou.device()));
  labels.masked_fill_(best_iou < options_.bg_iou, 0);
  labels.masked_fill_(best_iou >= options_.fg_iou, 1);

  if (options_.low_quality != LowQualityMatches::kNone) {
    // For each GT, every anchor that reaches that GT's highest IoU (ties included).
    auto best_per_gt = std::get<0>(iou.max(1));  // [G]
    auto is_best = (iou == best_per_gt.unsqueeze(1)) & (iou > 0);
    if (options_.low_quality == LowQualityMatches::kAboveBg) {
      is_best &= best_per_gt.unsqueeze(1) >= options_.bg_iou;
    }
    auto rescued = is_best.any(0);  // [R]
    labels.masked_fill_(rescued, 1);
  }
  return {matched_idx, labels};
}

}  // namespace anchors
}  // namespace focalab::models
