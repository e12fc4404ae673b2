#include "models/anchors/box_coder.h"

#include <torch/torch.h>

namespace focalab::models {
inline namespace anchors {

namespace {
struct CentreSize {
  torch::Tensor cx, cy, w, h;  // each [N]
};
CentreSize centre_size(const torch::Tensor& boxes) {
  auto w = boxes.select(1, 2) - boxes.select(1, 0);
  auto h = boxes.select(1, 3) - boxes.select(1, 1);
  return {boxes.select(1, 0) + 0.5 * w, boxes.select(1, 1) + 0.5 * h, w, h};
}
}  // namespace

torch::Tensor BoxCoder::encode(const torch::Tensor& anchors, const torch::Tensor& boxes) const {
  TORCH_CHECK(anchors.sizes() == boxes.sizes(), "BoxCoder::encode: anchors ", anchors.sizes(),
              " and boxes ", boxes.sizes(), " must have the same shape");
  const auto& w = options_.weights;
  auto a = centre_size(anchors);
  auto g = centre_size(boxes);
  auto dx = w[0] * (g.cx - a.cx) / a.w;
  auto dy = w[1] * (g.cy - a.cy) / a.h;
  auto dw = w[2] * torch::log(g.w / a.w);
  auto dh = w[3] * torch::log(g.h / a.h);
  return torch::stack({dx, dy, dw, dh}, 1);
}

torch::Tensor BoxCoder::decode(const torch::Tensor& deltas, const torch::Tensor& anchors) const {
  TORCH_CHECK(deltas.sizes() == anchors.sizes(), "BoxCoder::decode: deltas ", deltas.sizes(),
              " and anchors ", anchors.sizes(), " must have the same shape");
  const auto& w = options_.weights;
  auto a = centre_size(anchors.to(deltas.scalar_type()));
  auto dx = deltas.select(1, 0) / w[0];
  auto dy = deltas.select(1, 1) / w[1];
  auto dw = (deltas.select(1, 2) / w[2]).clamp_max(options_.scale_clamp);
  auto dh = (deltas.select(1, 3) / w[3]).clamp_max(options_.scale_clamp);
  auto cx = dx * a.w + a.cx;
  auto cy = dy * a.h + a.cy;
  auto pw = torch::exp(dw) * a.w;
  auto ph = torch::exp(dh) * a.h;
  return torch::stack({cx - 0.5 * pw, cy - 0.5 * ph, cx + 0.5 * pw, cy + 0.5 * ph}, 1);
}

}  // namespace anchors
}  // namespace focalab::models
