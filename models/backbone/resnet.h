#pragma once
// ResNet backbone with torchvision's module layout and parameter names (conv1, bn1, layer1..4,
// blocks with conv1/bn1/conv2/bn2[/conv3/bn3] and downsample.0/.1), returning C3, C4, C5 for an
// FPN. Presets: resnet18/34 (basic blocks), resnet50/101 (bottlenecks) and `tiny`, a narrow
// ResNet-10 for training from scratch on a CPU at ~128 px.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "models/backbone/norm.h"

namespace focalab::models {
inline namespace backbone {

struct ResNetOptions {
  // Preset: "tiny", "resnet18", "resnet34", "resnet50", "resnet101". Default: "resnet50" (paper).
  std::string preset = "resnet50";
  // Normalization layers. Default: frozen batch norm (torchvision detection, Detectron).
  NormKind norm = NormKind::kFrozenBatchNorm;
  // Stages whose parameters are frozen: 0 = none, 1 = stem, k = stem + layer1..layer(k-1).
  // Default: 2 (torchvision's trainable_backbone_layers = 3; Detectron freezes stem + res2).
  int64_t frozen_stages = 2;
};

struct BackboneFeatures {
  torch::Tensor c3, c4, c5;  // strides 8, 16, 32
};

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(ResNetOptions options = {});
  BackboneFeatures forward(const torch::Tensor& images);  // images [N, 3, H, W]
  // Channels of C3, C4, C5.
  std::vector<int64_t> out_channels() const { return out_channels_; }
  const ResNetOptions& options() const { return options_; }

 private:
  ResNetOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm2d bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
  std::vector<int64_t> out_channels_;
};
TORCH_MODULE(ResNet);

}  // namespace backbone
}  // namespace focalab::models
