#pragma once
// Anchors for a feature pyramid, torchvision's AnchorGenerator convention: per level a set of
// A = scales_per_octave x |aspect_ratios| cell anchors centred at (0, 0), shifted to every feature
// location (x * stride, y * stride) + offset * stride. Anchor order within a level is
// location-major (y, then x), then aspect ratio, then scale — the order the heads' outputs are
// flattened in (see RetinaNetHead). The stride of a level is the (padded) image size divided by the
// feature map size, per dimension, rounded down (torchvision): 8..128 on P3..P7 whenever the image
// is padded to a multiple of 128 (the paper), other values on P6/P7 for torchvision's padding to
// 32.

#include <torch/types.h>

#include <vector>

namespace focalab::models {
inline namespace anchors {

struct AnchorGeneratorOptions {
  // Base anchor size (pixels) per pyramid level, P3..P7. Default: 32..512 (paper, Detectron).
  std::vector<double> sizes = {32, 64, 128, 256, 512};
  // Truncate each sub-octave size to an integer, int(size * 2^(k/n)), as torchvision's
  // retinanet_resnet50_fpn builds its sizes (32, 40, 50, ...). Default: false (paper: 2^(k/n)).
  bool integer_sizes = false;
  // Scales per octave n: sizes are size * 2^(k/n), k = 0..n-1. Default: 3 (paper).
  int64_t scales_per_octave = 3;
  // Aspect ratios h/w. Default: {0.5, 1, 2} (paper).
  std::vector<double> aspect_ratios = {0.5, 1.0, 2.0};
  // Anchor centre offset as a fraction of the stride. Default: 0 (torchvision, detectron2).
  double offset = 0.0;
};

class AnchorGenerator {
 public:
  explicit AnchorGenerator(AnchorGeneratorOptions options = {});

  const AnchorGeneratorOptions& options() const { return options_; }
  int64_t num_levels() const { return static_cast<int64_t>(options_.sizes.size()); }
  // A: anchors per feature location.
  int64_t num_anchors_per_location() const;

  // The level's anchors centred at the origin, rounded to integers as torchvision does. [A, 4]
  torch::Tensor cell_anchors(int64_t level) const;

  // Anchors for feature maps of the given (height, width) per level on an input of
  // (image_height, image_width), concatenated over levels. [R, 4], R = sum_l H_l * W_l * A.
  torch::Tensor grid_anchors(const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
                             std::pair<int64_t, int64_t> image_size,
                             const torch::Device& device) const;

 private:
  AnchorGeneratorOptions options_;
  std::vector<torch::Tensor> cell_anchors_;  // per level [A, 4], float, CPU
};

}  // namespace anchors
}  // namespace focalab::models
