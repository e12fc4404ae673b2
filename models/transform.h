#pragma once
// The input transform of torchvision's detection models (GeneralizedRCNNTransform) at inference:
// resize each image so that its shorter side is min_size unless its longer side would then exceed
// max_size (bilinear, the scale computed in float32 as torchvision does), pad the batch to a
// multiple of size_divisible, and map detected boxes back to the original image. Normalization
// by the ImageNet mean / std is the model's first step (RetinaNet::forward); padding is filled
// with the mean so that the padded area is 0 after it, as in torchvision.

#include <torch/types.h>

#include <array>
#include <utility>
#include <vector>

namespace focalab::models {

struct TransformOptions {
  // Target length of the shorter side. Default: 800 (Detectron, torchvision; the paper's Table 1
  // ablations use 600).
  int64_t min_size = 800;
  // Upper bound of the longer side. Default: 1333 (Detectron, torchvision).
  int64_t max_size = 1333;
  // The batch is padded to a multiple of this. Default: 128 (Detectron's coarsest stride, so that
  // P7's stride is exactly 128); torchvision pads to 32.
  int64_t size_divisible = 128;
  // Fill of the padded area, per channel, in [0, 1] units. Default: ImageNet mean (0 after the
  // model's normalization).
  std::array<double, 3> pad_value = {0.485, 0.456, 0.406};
};

using ImageSize = std::pair<int64_t, int64_t>;  // (height, width)

// The resized (height, width) of an image of `size`, and the float32 scale factor used.
std::pair<ImageSize, double> resized_size(ImageSize size, int64_t min_size, int64_t max_size);

// Bilinear resize (align_corners = false) of image [C, H, W] (float) per `resized_size`.
torch::Tensor resize_image(const torch::Tensor& image, int64_t min_size, int64_t max_size);

struct ImageBatch {
  torch::Tensor images;                 // [N, 3, H_pad, W_pad]
  std::vector<ImageSize> image_sizes;   // per image after resizing, before padding
  std::vector<ImageSize> original_sizes;
};

// Resizes each image [3, H, W] (float in [0, 1]) and pads them into one batch.
ImageBatch transform_images(const std::vector<torch::Tensor>& images,
                            const TransformOptions& options);

// Boxes [N, 4] in an image of size `from` mapped to one of size `to`, scaling x and y by the
// float32 ratios of the sizes (torchvision's resize_boxes).
torch::Tensor resize_boxes(const torch::Tensor& boxes, ImageSize from, ImageSize to);

}  // namespace focalab::models
