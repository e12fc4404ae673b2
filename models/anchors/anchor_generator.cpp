#include "models/anchors/anchor_generator.h"

#include <torch/torch.h>

#include <cmath>

namespace focalab::models {
inline namespace anchors {

AnchorGenerator::AnchorGenerator(AnchorGeneratorOptions options) : options_(std::move(options)) {
  TORCH_CHECK(!options_.sizes.empty(), "AnchorGenerator: sizes must not be empty");
  TORCH_CHECK(options_.scales_per_octave >= 1, "AnchorGenerator: scales_per_octave must be >= 1");
  TORCH_CHECK(!options_.aspect_ratios.empty(), "AnchorGenerator: aspect_ratios must not be empty");
  for (double size : options_.sizes) {
    TORCH_CHECK(size > 0, "AnchorGenerator: sizes must be > 0, got ", size);
    std::vector<float> coords;
    // float32 arithmetic as torchvision's generate_anchors, so that rounding ties break alike
    for (double ratio : options_.aspect_ratios) {
      TORCH_CHECK(ratio > 0, "AnchorGenerator: aspect ratios must be > 0, got ", ratio);
      const float h_ratio = std::sqrt(static_cast<float>(ratio));
      const float w_ratio = 1.0f / h_ratio;
      for (int64_t k = 0; k < options_.scales_per_octave; ++k) {
        double scale = size * std::pow(2.0, static_cast<double>(k) / options_.scales_per_octave);
        if (options_.integer_sizes) scale = std::trunc(scale);
        const float w = w_ratio * static_cast<float>(scale);
        const float h = h_ratio * static_cast<float>(scale);
        // torchvision: torch.stack([-ws, -hs, ws, hs], 1) / 2, then .round() (half to even)
        coords.push_back(std::nearbyint(-w / 2));
        coords.push_back(std::nearbyint(-h / 2));
        coords.push_back(std::nearbyint(w / 2));
        coords.push_back(std::nearbyint(h / 2));
      }
    }
    cell_anchors_.push_back(
        torch::tensor(coords, torch::kFloat).view({-1, 4}));
  }
}

int64_t AnchorGenerator::num_anchors_per_location() const {
  return options_.scales_per_octave * static_cast<int64_t>(options_.aspect_ratios.size());
}

torch::Tensor AnchorGenerator::cell_anchors(int64_t level) const {
  TORCH_CHECK(level >= 0 && level < num_levels(), "AnchorGenerator: level ", level,
              " out of range [0, ", num_levels(), ")");
  return cell_anchors_[static_cast<size_t>(level)];
}

torch::Tensor AnchorGenerator::grid_anchors(
    const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
    std::pair<int64_t, int64_t> image_size, const torch::Device& device) const {
  TORCH_CHECK(static_cast<int64_t>(feature_sizes.size()) == num_levels(), "AnchorGenerator: got ",
              feature_sizes.size(), " feature maps for ", num_levels(), " levels");
  std::vector<torch::Tensor> per_level;
  for (size_t l = 0; l < feature_sizes.size(); ++l) {
    const auto [height, width] = feature_sizes[l];
    TORCH_CHECK(height > 0 && width > 0, "AnchorGenerator: empty feature map at level ", l);
    const double stride_y = static_cast<double>(image_size.first / height);
    const double stride_x = static_cast<double>(image_size.second / width);
    auto opts = torch::dtype(torch::kFloat).device(device);
    auto shifts_x = (torch::arange(width, opts) + options_.offset) * stride_x;   // [W]
    auto shifts_y = (torch::arange(height, opts) + options_.offset) * stride_y;  // [H]
    auto grid = torch::meshgrid({shifts_y, shifts_x}, "ij");
    auto sy = grid[0].reshape({-1});
    auto sx = grid[1].reshape({-1});
    auto shifts = torch::stack({sx, sy, sx, sy}, 1);                                // [HW, 4]
    auto cells = cell_anchors_[l].to(device);                                       // [A, 4]
    per_level.push_back((shifts.view({-1, 1, 4}) + cells.view({1, -1, 4})).reshape({-1, 4}));
  }
  return torch::cat(per_level, 0);
}

}  // namespace anchors
}  // namespace focalab::models
