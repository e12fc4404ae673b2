#include "models/transform.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace focalab::models {

std::pair<ImageSize, double> resized_size(ImageSize size, int64_t min_size, int64_t max_size) {
  TORCH_CHECK(size.first > 0 && size.second > 0, "resize: empty image ", size.first, "x",
              size.second);
  TORCH_CHECK(min_size > 0 && max_size > 0, "resize: min_size and max_size must be > 0");
  // torchvision: scale = torch.min(self_min_size / min_side, self_max_size / max_side) on float32
  // tensors, where `python_float / tensor` is evaluated as tensor.reciprocal() * python_float.
  const float min_side = static_cast<float>(std::min(size.first, size.second));
  const float max_side = static_cast<float>(std::max(size.first, size.second));
  const float by_min = (1.0f / min_side) * static_cast<float>(min_size);
  const float by_max = (1.0f / max_side) * static_cast<float>(max_size);
  const double scale = static_cast<double>(std::min(by_min, by_max));
  // interpolate(scale_factor=scale, recompute_scale_factor=True): floor(size * scale) in double
  const auto h = static_cast<int64_t>(std::floor(static_cast<double>(size.first) * scale));
  const auto w = static_cast<int64_t>(std::floor(static_cast<double>(size.second) * scale));
  return {{std::max<int64_t>(h, 1), std::max<int64_t>(w, 1)}, scale};
}

torch::Tensor resize_image(const torch::Tensor& image, int64_t min_size, int64_t max_size) {
  TORCH_CHECK(image.dim() == 3, "resize: expected an image [C, H, W], got ", image.sizes());
  const auto [size, scale] = resized_size({image.size(1), image.size(2)}, min_size, max_size);
  (void)scale;
  if (size.first == image.size(1) && size.second == image.size(2)) return image;
  namespace F = torch::nn::functional;
  return F::interpolate(image.unsqueeze(0),
                        F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{size.first, size.second})
                            .mode(torch::kBilinear)
                            .align_corners(false))
      .squeeze(0);
}

ImageBatch transform_images(const std::vector<torch::Tensor>& images,
                            const TransformOptions& options) {
  TORCH_CHECK(!images.empty(), "transform_images: no images");
  TORCH_CHECK(options.size_divisible >= 1, "transform_images: size_divisible must be >= 1");
  ImageBatch batch;
  std::vector<torch::Tensor> resized;
  int64_t max_h = 0, max_w = 0;
  for (const auto& image : images) {
    TORCH_CHECK(image.dim() == 3 && image.size(0) == 3, "transform_images: expected [3, H, W], got ",
                image.sizes());
    batch.original_sizes.emplace_back(image.size(1), image.size(2));
    auto r = resize_image(image.to(torch::kFloat), options.min_size, options.max_size);
    batch.image_sizes.emplace_back(r.size(1), r.size(2));
    max_h = std::max(max_h, r.size(1));
    max_w = std::max(max_w, r.size(2));
    resized.push_back(r);
  }
  const int64_t d = options.size_divisible;
  const int64_t pad_h = (max_h + d - 1) / d * d, pad_w = (max_w + d - 1) / d * d;
  const auto& device = images.front().device();
  auto fill = torch::tensor({options.pad_value[0], options.pad_value[1], options.pad_value[2]},
                            torch::dtype(torch::kFloat).device(device))
                  .view({1, 3, 1, 1});
  batch.images = fill.expand({static_cast<int64_t>(images.size()), 3, pad_h, pad_w}).clone();
  for (size_t i = 0; i < resized.size(); ++i) {
    batch.images[static_cast<int64_t>(i)]
        .narrow(1, 0, resized[i].size(1))
        .narrow(2, 0, resized[i].size(2))
        .copy_(resized[i]);
  }
  return batch;
}

torch::Tensor resize_boxes(const torch::Tensor& boxes, ImageSize from, ImageSize to) {
  // torchvision: ratio = torch.tensor(new, float32) / torch.tensor(original, float32)
  const float ratio_h = static_cast<float>(to.first) / static_cast<float>(from.first);
  const float ratio_w = static_cast<float>(to.second) / static_cast<float>(from.second);
  auto scale = torch::tensor({ratio_w, ratio_h, ratio_w, ratio_h}, boxes.options());
  return boxes * scale;
}

}  // namespace focalab::models
