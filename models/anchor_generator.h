#pragma once
// Anchors for a feature pyramid, torchvision's AnchorGenerator convention: per level a set of
// A = scales_per_octave x |aspect_ratios| cell anchors centred at (0, 0), shifted to every feature
// location (x * stride, y * stride) + offset * stride. Anchor order within a level is
// location-major (y, then x), then aspect ratio, then scale — the order the heads' outputs are
// flattened in (see RetinaNetHead).

#include <torch/types.h>

#include <vector>

namespace focalab::models {

struct AnchorGeneratorOptions {
  // Base anchor size (pixels) per pyramid level, P3..P7. Default: 32..512 (paper, Detectron).
  std::vector<double> sizes = {32, 64, 128, 256, 512};
  // Stride (pixels) per level; must have as many entries as `sizes`. Default: 8..128 (P3..P7).
  std::vector<int64_t> strides = {8, 16, 32, 64, 128};
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

  // Anchors for feature maps of the given (height, width) per level, concatenated over levels.
  // [R, 4], R = sum_l H_l * W_l * A.
  torch::Tensor grid_anchors(const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
                             const torch::Device& device) const;

 private:
  AnchorGeneratorOptions options_;
  std::vector<torch::Tensor> cell_anchors_;  // per level [A, 4], float, CPU
};

}  // namespace focalab::models
