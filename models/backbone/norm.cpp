#include "models/backbone/norm.h"

#include <torch/torch.h>

namespace focalab::models {
inline namespace backbone {

BatchNorm2dImpl::BatchNorm2dImpl(int64_t channels, NormKind kind) : kind_(kind) {
  weight_ = register_parameter("weight", torch::ones({channels}),
                               /*requires_grad=*/kind == NormKind::kBatchNorm);
  bias_ = register_parameter("bias", torch::zeros({channels}),
                             /*requires_grad=*/kind == NormKind::kBatchNorm);
  running_mean_ = register_buffer("running_mean", torch::zeros({channels}));
  running_var_ = register_buffer("running_var", torch::ones({channels}));
}

std::pair<torch::Tensor, torch::Tensor> BatchNorm2dImpl::frozen_affine() const {
  torch::NoGradGuard no_grad;
  auto scale = weight_ * (running_var_ + eps_).rsqrt();  // [C]
  auto shift = bias_ - running_mean_ * scale;
  return {scale, shift};
}

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& x) {
  if (kind_ == NormKind::kFrozenBatchNorm) {
    auto [scale, shift] = frozen_affine();
    return x.mul(scale.view({1, -1, 1, 1})).add_(shift.view({1, -1, 1, 1}));
  }
  return torch::batch_norm(x, weight_, bias_, running_mean_, running_var_, is_training(),
                           momentum_, eps_, /*cudnn_enabled=*/true);
}


torch::Tensor conv_norm(const torch::Tensor& x, const torch::Tensor& conv_weight, int64_t stride,
                        int64_t padding, BatchNorm2dImpl& norm) {
  if (norm.kind() != NormKind::kFrozenBatchNorm) {
    return norm.forward(torch::conv2d(x, conv_weight, {}, stride, padding));
  }
  auto [scale, shift] = norm.frozen_affine();
  return torch::conv2d(x, conv_weight * scale.view({-1, 1, 1, 1}), shift, stride, padding);
}

}  // namespace backbone
}  // namespace focalab::models
