#include "models/anchors/anchor_labels.h"

#include <torch/torch.h>

#include "models/anchors/box_ops.h"

namespace focalab::models {
inline namespace anchors {

AnchorTargets label_anchors(const torch::Tensor& anchors,
                            const std::vector<torch::Tensor>& gt_boxes,
                            const std::vector<torch::Tensor>& gt_classes, const Matcher& matcher,
                            const std::vector<torch::Tensor>& crowd_boxes, double crowd_ioa) {
  TORCH_CHECK(gt_boxes.size() == gt_classes.size(), "label_anchors: ", gt_boxes.size(),
              " box tensors but ", gt_classes.size(), " class tensors");
  torch::NoGradGuard no_grad;
  const int64_t num_anchors = anchors.size(0);
  std::vector<torch::Tensor> labels, classes, boxes, max_ious;
  for (size_t i = 0; i < gt_boxes.size(); ++i) {
    const auto& gb = gt_boxes[i];
    if (gb.size(0) == 0) {
      labels.push_back(torch::zeros({num_anchors}, torch::dtype(torch::kChar).device(anchors.device())));
      classes.push_back(torch::zeros({num_anchors}, torch::dtype(torch::kLong).device(anchors.device())));
      boxes.push_back(torch::zeros({num_anchors, 4}, anchors.options()));
      max_ious.push_back(torch::zeros({num_anchors}, anchors.options()));
      continue;
    }
    auto iou = box_iou(gb, anchors);  // [G, R]
    auto match = matcher(iou);
    labels.push_back(match.labels);
    classes.push_back(gt_classes[i].index_select(0, match.matched_idx));
    boxes.push_back(gb.index_select(0, match.matched_idx));
    max_ious.push_back(std::get<0>(iou.max(0)));
  }
  for (size_t i = 0; i < crowd_boxes.size() && i < labels.size(); ++i) {
    const auto& cb = crowd_boxes[i];
    if (!cb.defined() || cb.size(0) == 0) continue;
    // intersection over the anchor's area, [C, R]
    auto c = cb.to(anchors.device(), anchors.scalar_type());
    auto lt = torch::max(c.slice(1, 0, 2).unsqueeze(1), anchors.slice(1, 0, 2).unsqueeze(0));
    auto rb = torch::min(c.slice(1, 2, 4).unsqueeze(1), anchors.slice(1, 2, 4).unsqueeze(0));
    auto wh = (rb - lt).clamp_min(0);
    auto inter = wh.select(2, 0) * wh.select(2, 1);
    auto ioa = inter / box_area(anchors).clamp_min(1e-6).unsqueeze(0);
    auto in_crowd = std::get<0>(ioa.max(0)) >= crowd_ioa;  // [R]
    labels[i] = labels[i].masked_fill(in_crowd & (labels[i] == 0), -1);
  }
  return {torch::stack(labels), torch::stack(classes), torch::stack(boxes), torch::stack(max_ious)};
}

}  // namespace anchors
}  // namespace focalab::models
