#pragma once
// Box <-> regression-target transform of R-CNN / RetinaNet (torchvision's BoxCoder,
// detectron2's Box2BoxTransform): dx = wx (gx - ax) / aw, dy = wy (gy - ay) / ah,
// dw = ww log(gw / aw), dh = wh log(gh / ah), with centres and sizes of (x1, y1, x2, y2) boxes.

#include <torch/types.h>

#include <array>
#include <cmath>

namespace focalab::models {
inline namespace anchors {

struct BoxCoderOptions {
  // Weights (wx, wy, ww, wh). Default: (1, 1, 1, 1) (RetinaNet, all implementations).
  std::array<double, 4> weights = {1.0, 1.0, 1.0, 1.0};
  // Upper clamp of dw, dh before exp() when decoding. Default: log(1000 / 16) (Detectron).
  double scale_clamp = std::log(1000.0 / 16.0);
};

class BoxCoder {
 public:
  explicit BoxCoder(BoxCoderOptions options = {}) : options_(options) {}
  const BoxCoderOptions& options() const { return options_; }

  // Regression targets that take `anchors` to `boxes`. Both [N, 4] -> [N, 4].
  torch::Tensor encode(const torch::Tensor& anchors, const torch::Tensor& boxes) const;
  // Boxes obtained by applying `deltas` to `anchors`. Both [N, 4] -> [N, 4].
  torch::Tensor decode(const torch::Tensor& deltas, const torch::Tensor& anchors) const;

 private:
  BoxCoderOptions options_;
};

}  // namespace anchors
}  // namespace focalab::models
