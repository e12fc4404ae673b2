#pragma once
// Feature pyramid network P3..P7 of RetinaNet: lateral 1x1 convs on C3..C5, top-down nearest
// upsampling, 3x3 output convs, then P6 = 3x3/2 conv on C5 (paper) or on P5 (torchvision), and
// P7 = 3x3/2 conv on ReLU(P6). Names follow torchvision: inner_blocks.i, layer_blocks.i, p6, p7.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "models/backbone/resnet.h"

namespace focalab::models {
inline namespace backbone {

enum class P6Source {
  kC5,  // paper, Detectron
  kP5,  // torchvision
};

struct FpnOptions {
  // Channels of every pyramid level. Default: 256 (paper).
  int64_t out_channels = 256;
  // Input of the P6 conv. Default: C5 (paper).
  P6Source p6_source = P6Source::kC5;
};

class FpnImpl : public torch::nn::Module {
 public:
  FpnImpl(std::vector<int64_t> in_channels, FpnOptions options = {});
  // Returns P3..P7, each [N, out_channels, H_l, W_l].
  std::vector<torch::Tensor> forward(const BackboneFeatures& c);

 private:
  FpnOptions options_;
  torch::nn::ModuleList inner_blocks_{nullptr}, layer_blocks_{nullptr};
  torch::nn::Conv2d p6_{nullptr}, p7_{nullptr};
};
TORCH_MODULE(Fpn);

}  // namespace backbone
}  // namespace focalab::models
