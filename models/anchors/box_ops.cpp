#include "models/anchors/box_ops.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace focalab::models {
inline namespace anchors {

torch::Tensor box_area(const torch::Tensor& boxes) {
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.dim() == 2 && a.size(1) == 4, "box_iou: a must be [N, 4], got ", a.sizes());
  TORCH_CHECK(b.dim() == 2 && b.size(1) == 4, "box_iou: b must be [M, 4], got ", b.sizes());
  auto area_a = box_area(a);                                             // [N]
  auto area_b = box_area(b);                                             // [M]
  auto lt = torch::max(a.unsqueeze(1).narrow(2, 0, 2), b.narrow(1, 0, 2));  // [N, M, 2]
  auto rb = torch::min(a.unsqueeze(1).narrow(2, 2, 2), b.narrow(1, 2, 2));  // [N, M, 2]
  auto wh = (rb - lt).clamp_min(0);
  auto inter = wh.select(2, 0) * wh.select(2, 1);                        // [N, M]
  auto uni = area_a.unsqueeze(1) + area_b.unsqueeze(0) - inter;
  return torch::where(uni > 0, inter / uni.clamp_min(1e-12), torch::zeros_like(inter));
}

torch::Tensor clip_boxes(const torch::Tensor& boxes, int64_t height, int64_t width) {
  auto x = boxes.index({torch::indexing::Slice(), torch::indexing::Slice(0, 4, 2)})
               .clamp(0, static_cast<double>(width));
  auto y = boxes.index({torch::indexing::Slice(), torch::indexing::Slice(1, 4, 2)})
               .clamp(0, static_cast<double>(height));
  return torch::stack({x.select(1, 0), y.select(1, 0), x.select(1, 1), y.select(1, 1)}, 1);
}

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold,
                  int64_t max_keep) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "nms: boxes must be [N, 4], got ",
              boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0),
              "nms: scores must be [N] with N = ", boxes.size(0), ", got ", scores.sizes());
  const int64_t n = boxes.size(0);
  if (n == 0) return torch::empty({0}, torch::dtype(torch::kLong).device(boxes.device()));
  auto b = boxes.to(torch::kCPU, torch::kFloat).contiguous();
  auto order = std::get<1>(scores.to(torch::kCPU).sort(/*stable=*/true, 0, /*descending=*/true))
                   .contiguous();
  const float* bp = b.data_ptr<float>();
  const int64_t* op = order.data_ptr<int64_t>();
  std::vector<float> area(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    area[i] = (bp[4 * i + 2] - bp[4 * i]) * (bp[4 * i + 3] - bp[4 * i + 1]);
  }
  std::vector<char> suppressed(static_cast<size_t>(n), 0);
  std::vector<int64_t> keep;
  for (int64_t oi = 0; oi < n; ++oi) {
    const int64_t i = op[oi];
    if (suppressed[i]) continue;
    if (static_cast<int64_t>(keep.size()) == max_keep) break;
    keep.push_back(i);
    // the boxes kept later cannot change the ones kept so far
    if (static_cast<int64_t>(keep.size()) == max_keep) break;
    const float* bi = bp + 4 * i;
    for (int64_t oj = oi + 1; oj < n; ++oj) {
      const int64_t j = op[oj];
      if (suppressed[j]) continue;
      const float* bj = bp + 4 * j;
      const float w = std::max(0.f, std::min(bi[2], bj[2]) - std::max(bi[0], bj[0]));
      const float h = std::max(0.f, std::min(bi[3], bj[3]) - std::max(bi[1], bj[1]));
      const float inter = w * h;
      const float uni = area[i] + area[j] - inter;
      if (uni > 0 && inter / uni > iou_threshold) suppressed[j] = 1;
    }
  }
  return torch::tensor(keep, torch::kLong).to(boxes.device());
}

torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores,
                          const torch::Tensor& idxs, double iou_threshold) {
  if (boxes.size(0) == 0) {
    return torch::empty({0}, torch::dtype(torch::kLong).device(boxes.device()));
  }
  // Offset each category's boxes so that boxes of different categories never overlap.
  auto max_coord = boxes.max();
  auto offsets = idxs.to(boxes.scalar_type()) * (max_coord + 1);
  return nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
}

}  // namespace anchors
}  // namespace focalab::models
