#include "models/postprocess.h"

#include <torch/torch.h>

#include <algorithm>

#include "models/anchors/box_ops.h"

namespace focalab::models {

Detections postprocess_detections(const torch::Tensor& cls_logits, const torch::Tensor& box_deltas,
                                  const torch::Tensor& anchors,
                                  const std::vector<int64_t>& anchors_per_level,
                                  int64_t image_height, int64_t image_width,
                                  const BoxCoder& box_coder, const PostprocessOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t num_classes = cls_logits.size(1);
  std::vector<torch::Tensor> all_boxes, all_scores, all_labels;
  int64_t start = 0;
  for (int64_t count : anchors_per_level) {
    auto logits = cls_logits.narrow(0, start, count);  // [R_l, K]
    auto deltas = box_deltas.narrow(0, start, count);  // [R_l, 4]
    auto level_anchors = anchors.narrow(0, start, count);
    start += count;

    auto scores = torch::sigmoid(logits.to(torch::kFloat)).flatten();  // [R_l * K]
    auto keep = torch::nonzero(scores > options.score_thresh).squeeze(1);
    scores = scores.index_select(0, keep);
    const int64_t k = std::min<int64_t>(options.topk_candidates, keep.size(0));
    auto [top_scores, order] = scores.topk(k);
    auto idx = keep.index_select(0, order);
    auto anchor_idx = torch::div(idx, num_classes, "floor");
    auto labels = idx.remainder(num_classes);
    auto boxes = box_coder.decode(deltas.index_select(0, anchor_idx).to(torch::kFloat),
                                  level_anchors.index_select(0, anchor_idx));
    all_boxes.push_back(clip_boxes(boxes, image_height, image_width));
    all_scores.push_back(top_scores);
    all_labels.push_back(labels);
  }
  auto boxes = torch::cat(all_boxes, 0);
  auto scores = torch::cat(all_scores, 0);
  auto labels = torch::cat(all_labels, 0);
  auto keep = batched_nms(boxes, scores, labels, options.nms_thresh);
  keep = keep.narrow(0, 0, std::min<int64_t>(keep.size(0), options.detections_per_image));
  return {boxes.index_select(0, keep), scores.index_select(0, keep), labels.index_select(0, keep)};
}

}  // namespace focalab::models
