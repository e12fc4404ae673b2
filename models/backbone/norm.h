#pragma once
// 2-d batch normalization with torchvision's parameter names (weight, bias, running_mean,
// running_var), either trainable (nn.BatchNorm2d) or frozen (torchvision's FrozenBatchNorm2d:
// fixed affine transform from the stored statistics, what detection models use with pretrained
// backbones and small per-GPU batches).

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <utility>

namespace focalab::models {
inline namespace backbone {

enum class NormKind {
  kFrozenBatchNorm,  // statistics and affine parameters fixed (torchvision detection default)
  kBatchNorm,        // ordinary batch norm, trained (for backbones trained from scratch)
};

class BatchNorm2dImpl : public torch::nn::Module {
 public:
  BatchNorm2dImpl(int64_t channels, NormKind kind);
  torch::Tensor forward(const torch::Tensor& x);
  NormKind kind() const { return kind_; }
  // Frozen batch norm as its per-channel affine map, y = x * scale + shift ([C] each, no
  // gradient): what conv_norm folds into the preceding convolution.
  std::pair<torch::Tensor, torch::Tensor> frozen_affine() const;

 private:
  NormKind kind_;
  double eps_ = 1e-5;
  double momentum_ = 0.1;
  torch::Tensor weight_, bias_, running_mean_, running_var_;
};
TORCH_MODULE(BatchNorm2d);

// norm(conv(x)) for a bias-free convolution with `stride` and `padding`. A frozen batch norm is
// folded into the convolution (weight * scale, shift as its bias): the same function without
// the two elementwise passes over the activation in the forward and one in the backward.
torch::Tensor conv_norm(const torch::Tensor& x, const torch::Tensor& conv_weight, int64_t stride,
                        int64_t padding, BatchNorm2dImpl& norm);

}  // namespace backbone
}  // namespace focalab::models
