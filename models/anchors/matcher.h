#pragma once
// Assigns each anchor to at most one ground-truth box by IoU, detectron2's Matcher: thresholds
// [bg_iou, fg_iou] and labels [0, -1, 1]. Two outputs instead of torchvision's status codes
// squeezed into the index tensor: the matched GT index and a label
//   1  positive   (IoU >= fg_iou, or a GT's best anchor under the low-quality rule),
//   0  negative   (IoU < bg_iou),
//  -1  ignored    (in between).

#include <torch/types.h>

namespace focalab::models {
inline namespace anchors {

enum class LowQualityMatches {
  kNone,      // no rescue of GTs whose best anchor is below fg_iou
  kAny,       // each GT's best anchor(s) become positive at any IoU > 0 (torchvision, detectron2)
  kAboveBg,   // ... only if that IoU >= bg_iou (Detectron)
};

struct MatcherOptions {
  // IoU at or above which an anchor is positive. Default: 0.5 (paper).
  double fg_iou = 0.5;
  // IoU below which an anchor is negative. Default: 0.4 (paper).
  double bg_iou = 0.4;
  // Rule for GTs whose best anchor is below fg_iou. Default: kAboveBg (Detectron, the paper's
  // implementation).
  LowQualityMatches low_quality = LowQualityMatches::kAboveBg;
};

struct MatchResult {
  torch::Tensor matched_idx;  // [R] int64, index of the best GT (0 when there is no GT)
  torch::Tensor labels;       // [R] int8 in {-1, 0, 1}
};

class Matcher {
 public:
  explicit Matcher(MatcherOptions options = {});
  const MatcherOptions& options() const { return options_; }

  // iou: [G, R] (GT x anchors). G may be 0: every anchor is then negative.
  MatchResult operator()(const torch::Tensor& iou) const;

 private:
  MatcherOptions options_;
};

}  // namespace anchors
}  // namespace focalab::models
