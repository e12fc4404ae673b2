#include "models/retinanet_head.h"

#include <torch/torch.h>

#include <cmath>

namespace focalab::models {

namespace nn = torch::nn;

namespace {
// GroupNorm computed in float32 for a half-precision input (CUDA autocast does so; CPU autocast in
// LibTorch 1.13 has no rule for group_norm and would fail on a bfloat16 input). The same
// parameters, so checkpoints are unchanged.
class Fp32GroupNormImpl : public nn::GroupNormImpl {
 public:
  using nn::GroupNormImpl::GroupNormImpl;
  torch::Tensor forward(const torch::Tensor& x) {
    const bool half = x.scalar_type() == torch::kHalf || x.scalar_type() == torch::kBFloat16;
    return nn::GroupNormImpl::forward(half ? x.to(torch::kFloat) : x);
  }
};
TORCH_MODULE(Fp32GroupNorm);

nn::Conv2d head_conv(int64_t in, int64_t out, bool bias = true) {
  nn::Conv2d conv(nn::Conv2dOptions(in, out, 3).padding(1).bias(bias));
  nn::init::normal_(conv->weight, 0.0, 0.01);
  if (bias) nn::init::zeros_(conv->bias);
  return conv;
}

nn::Sequential tower(int64_t channels, int64_t num_convs, HeadNorm norm) {
  nn::Sequential seq;
  for (int64_t i = 0; i < num_convs; ++i) {
    // A conv followed by GroupNorm has no bias (torchvision's Conv2dNormActivation).
    seq->push_back(head_conv(channels, channels, norm != HeadNorm::kGroupNorm));
    if (norm == HeadNorm::kGroupNorm) {
      seq->push_back(Fp32GroupNorm(nn::GroupNormOptions(32, channels)));
    }
    seq->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
  }
  return seq;
}

// [N, A*C, H, W] -> [N, H*W*A, C]
torch::Tensor flatten_level(const torch::Tensor& x, int64_t per_anchor) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  return x.view({n, -1, per_anchor, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, per_anchor});
}
}  // namespace

RetinaNetHeadImpl::RetinaNetHeadImpl(RetinaNetHeadOptions options) : options_(options) {
  TORCH_CHECK(options_.num_classes >= 1, "RetinaNetHead: num_classes must be >= 1");
  TORCH_CHECK(options_.prior_prob < 1.0, "RetinaNetHead: prior_prob must be < 1, got ",
              options_.prior_prob);
  TORCH_CHECK(options_.norm != HeadNorm::kGroupNorm || options_.channels % 32 == 0,
              "RetinaNetHead: GroupNorm(32) needs channels divisible by 32, got ",
              options_.channels);
  const int64_t c = options_.channels, a = options_.num_anchors, k = options_.num_classes;
  auto cls = register_module("classification_head", std::make_shared<nn::Module>());
  auto reg = register_module("regression_head", std::make_shared<nn::Module>());
  cls_tower_ = cls->register_module("conv", tower(c, options_.num_convs, options_.norm));
  cls_logits_ = cls->register_module("cls_logits", head_conv(c, a * k));
  box_tower_ = reg->register_module("conv", tower(c, options_.num_convs, options_.norm));
  bbox_reg_ = reg->register_module("bbox_reg", head_conv(c, a * 4));
  if (options_.prior_prob > 0) {
    torch::NoGradGuard no_grad;
    cls_logits_->bias.fill_(-std::log((1.0 - options_.prior_prob) / options_.prior_prob));
  }
}

HeadOutputs RetinaNetHeadImpl::forward(const std::vector<torch::Tensor>& features) {
  std::vector<torch::Tensor> cls, box;
  for (const auto& f : features) {
    cls.push_back(flatten_level(cls_logits_(cls_tower_->forward(f)), options_.num_classes));
    box.push_back(flatten_level(bbox_reg_(box_tower_->forward(f)), 4));
  }
  return {torch::cat(cls, 1), torch::cat(box, 1)};
}

}  // namespace focalab::models
