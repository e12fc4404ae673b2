#pragma once
// Detections from RetinaNet outputs for one image, the paper's recipe (torchvision's
// postprocess_detections): per level keep scores > score_thresh, take the top-k candidates,
// decode and clip their boxes; then merge levels, per-class NMS, keep the best detections.

#include <torch/types.h>

#include <vector>

#include "models/anchors/box_coder.h"

namespace focalab::models {

struct PostprocessOptions {
  // Minimum sigmoid score of a candidate. Default: 0.05 (paper).
  double score_thresh = 0.05;
  // Candidates kept per level after thresholding. Default: 1000 (paper).
  int64_t topk_candidates = 1000;
  // IoU threshold of the per-class NMS. Default: 0.5 (paper).
  double nms_thresh = 0.5;
  // Detections kept per image. Default: 100 (paper; torchvision keeps 300).
  int64_t detections_per_image = 100;
};

struct Detections {
  torch::Tensor boxes;   // [D, 4] (x1, y1, x2, y2) in input pixels
  torch::Tensor scores;  // [D]
  torch::Tensor labels;  // [D] int64, contiguous class index in [0, K)
};

// cls_logits: [R, K], box_deltas: [R, 4], anchors: [R, 4] for one image.
Detections postprocess_detections(const torch::Tensor& cls_logits, const torch::Tensor& box_deltas,
                                  const torch::Tensor& anchors,
                                  const std::vector<int64_t>& anchors_per_level,
                                  int64_t image_height, int64_t image_width,
                                  const BoxCoder& box_coder, const PostprocessOptions& options);

}  // namespace focalab::models
