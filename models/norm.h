#pragma once
// 2-d batch normalization with torchvision's parameter names (weight, bias, running_mean,
// running_var), either trainable (nn.BatchNorm2d) or frozen (torchvision's FrozenBatchNorm2d:
// fixed affine transform from the stored statistics, what detection models use with pretrained
// backbones and small per-GPU batches).

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace focalab::models {

enum class NormKind {
  kFrozenBatchNorm,  // statistics and affine parameters fixed (torchvision detection default)
  kBatchNorm,        // ordinary batch norm, trained (for backbones trained from scratch)
};

class BatchNorm2dImpl : public torch::nn::Module {
 public:
  BatchNorm2dImpl(int64_t channels, NormKind kind);
  torch::Tensor forward(const torch::Tensor& x);
  NormKind kind() const { return kind_; }

 private:
  NormKind kind_;
  double eps_ = 1e-5;
  double momentum_ = 0.1;
  torch::Tensor weight_, bias_, running_mean_, running_var_;
};
TORCH_MODULE(BatchNorm2d);

}  // namespace focalab::models
