#pragma once
// label_anchors (detectron2's RetinaNet.label_anchors): per image, match anchors to ground truth
// and gather what the losses need. Batched: results are stacked over the N images.

#include <torch/types.h>

#include <vector>

#include "models/anchors/matcher.h"

namespace focalab::models {
inline namespace anchors {

struct AnchorTargets {
  torch::Tensor labels;       // [N, R] int8: 1 positive, 0 negative, -1 ignored (see Matcher)
  torch::Tensor gt_classes;   // [N, R] int64: class of the matched GT, valid where labels == 1
  torch::Tensor gt_boxes;     // [N, R, 4] the matched GT box, valid where labels == 1
  torch::Tensor max_iou;      // [N, R] float: the anchor's best IoU with any GT (0 if none)
};

// anchors: [R, 4]; gt_boxes[i]: [G_i, 4]; gt_classes[i]: [G_i] int64.
// crowd_boxes (optional, one [C_i, 4] per image): ignore regions (COCO iscrowd). A negative
// anchor whose intersection with one of them covers at least `crowd_ioa` of the anchor's own
// area is ignored instead (Detectron's CROWD_FILTER_THRESH 0.7).
AnchorTargets label_anchors(const torch::Tensor& anchors,
                            const std::vector<torch::Tensor>& gt_boxes,
                            const std::vector<torch::Tensor>& gt_classes, const Matcher& matcher,
                            const std::vector<torch::Tensor>& crowd_boxes = {},
                            double crowd_ioa = 0.7);

}  // namespace anchors
}  // namespace focalab::models
