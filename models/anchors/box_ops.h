#pragma once
// Box utilities on (x1, y1, x2, y2) boxes in pixels, torchvision's convention: width = x2 - x1
// (no "+1"). All functions are pure; none of them records autograd history.

#include <torch/types.h>

namespace focalab::models {
inline namespace anchors {

// Area of each box. boxes: [N, 4] -> [N].
torch::Tensor box_area(const torch::Tensor& boxes);

// Pairwise intersection-over-union. a: [N, 4], b: [M, 4] -> [N, M]. Degenerate boxes give 0.
torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b);

// Clamps boxes to an image of the given height and width. boxes: [N, 4] -> [N, 4].
torch::Tensor clip_boxes(const torch::Tensor& boxes, int64_t height, int64_t width);

// Greedy non-maximum suppression: visits boxes by decreasing score and drops every box whose IoU
// with an already kept box is > iou_threshold. Returns the kept indices (int64) by decreasing
// score. boxes: [N, 4], scores: [N]. max_keep >= 0 stops once that many are kept (the first
// max_keep of the full result; OHEM keeps only a batch of them).
torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold,
                  int64_t max_keep = -1);

// NMS done independently per category (boxes of different `idxs` never suppress each other),
// torchvision's batched_nms. idxs: [N] int64. Returns kept indices by decreasing score.
torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores,
                          const torch::Tensor& idxs, double iou_threshold);

}  // namespace anchors
}  // namespace focalab::models
