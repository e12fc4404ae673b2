#pragma once
// RetinaNet's classification and box subnets (paper Fig. 3), shared across pyramid levels:
// num_convs x (3x3 conv, [GroupNorm,] ReLU) then a 3x3 conv to A*K class logits / A*4 box deltas. Weights
// N(0, 0.01), biases 0, classification bias -log((1 - pi) / pi) (the "prior" init). Names follow
// torchvision: classification_head.conv / cls_logits, regression_head.conv / bbox_reg.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace focalab::models {

enum class HeadNorm {
  kNone,       // paper, Detectron, torchvision v1
  kGroupNorm,  // GroupNorm(32) after each hidden conv, which then has no bias (torchvision
               // retinanet_resnet50_fpn_v2; detectron2 RETINANET.NORM "GN" keeps the bias)
};

struct RetinaNetHeadOptions {
  // Input and hidden channels. Default: 256 (paper).
  int64_t channels = 256;
  // Number of object classes K (no background class: sigmoid outputs). Default: 80 (COCO).
  int64_t num_classes = 80;
  // Anchors per location A. Default: 9 (paper).
  int64_t num_anchors = 9;
  // Hidden 3x3 convs per subnet. Default: 4 (paper).
  int64_t num_convs = 4;
  // Normalization of the hidden convs. Default: none (paper).
  HeadNorm norm = HeadNorm::kNone;
  // Prior probability pi of the classification bias init; <= 0 disables it (bias 0).
  // Default: 0.01 (paper §4.1).
  double prior_prob = 0.01;
};

struct HeadOutputs {
  torch::Tensor cls_logits;  // [N, R, K], R = sum_l H_l * W_l * A
  torch::Tensor box_deltas;  // [N, R, 4]
};

class RetinaNetHeadImpl : public torch::nn::Module {
 public:
  explicit RetinaNetHeadImpl(RetinaNetHeadOptions options = {});
  HeadOutputs forward(const std::vector<torch::Tensor>& features);
  const RetinaNetHeadOptions& options() const { return options_; }

 private:
  RetinaNetHeadOptions options_;
  torch::nn::Sequential cls_tower_{nullptr}, box_tower_{nullptr};
  torch::nn::Conv2d cls_logits_{nullptr}, bbox_reg_{nullptr};
};
TORCH_MODULE(RetinaNetHead);

}  // namespace focalab::models
