#pragma once
// RetinaNet = ResNet backbone + FPN P3..P7 + shared heads + anchors. The model only maps images to
// per-anchor outputs; labelling anchors, losses and postprocessing are separate (label_anchors in
// models/anchors/anchor_labels.h, losses/, models/postprocess.h) so the loss stays the ablation axis.

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <functional>
#include <utility>
#include <vector>

#include "models/anchors/anchor_generator.h"
#include "models/backbone/fpn.h"
#include "models/backbone/resnet.h"
#include "models/retinanet_head.h"

namespace focalab::models {

struct RetinaNetOptions {
  ResNetOptions backbone;
  FpnOptions fpn;
  RetinaNetHeadOptions head;  // head.channels and head.num_anchors are set from fpn / anchors
  AnchorGeneratorOptions anchors;
  // Per-channel input normalization applied to images in [0, 1]. Default: ImageNet (torchvision).
  std::array<double, 3> pixel_mean = {0.485, 0.456, 0.406};
  std::array<double, 3> pixel_std = {0.229, 0.224, 0.225};
};

struct RetinaNetOutputs {
  torch::Tensor cls_logits;                  // [N, R, K]
  torch::Tensor box_deltas;                  // [N, R, 4]
  torch::Tensor anchors;                     // [R, 4], shared by the batch
  std::vector<int64_t> anchors_per_level;    // R_l, sum = R
};

class RetinaNetImpl : public torch::nn::Module {
 public:
  explicit RetinaNetImpl(RetinaNetOptions options = {});
  // images: [N, 3, H, W], float in [0, 1], H and W multiples of the largest stride.
  RetinaNetOutputs forward(const torch::Tensor& images);
  // The same, calling mark("backbone"), mark("fpn") and mark("heads") as each stage is done
  // (per-stage timing; an empty function is not called).
  RetinaNetOutputs forward(const torch::Tensor& images,
                           const std::function<void(const char*)>& mark);

  const RetinaNetOptions& options() const { return options_; }
  const AnchorGenerator& anchor_generator() const { return anchor_generator_; }
  // The stages, for tests and analyses that look inside (parity, features).
  ResNet& backbone() { return backbone_; }
  Fpn& fpn() { return fpn_; }
  RetinaNetHead& head() { return head_; }
  // images [N, 3, H, W] in [0, 1] -> the input of the backbone (ImageNet normalization).
  torch::Tensor normalize(const torch::Tensor& images) const;
  int64_t num_classes() const { return options_.head.num_classes; }

 private:
  RetinaNetOptions options_;
  AnchorGenerator anchor_generator_;
  ResNet backbone_{nullptr};
  Fpn fpn_{nullptr};
  RetinaNetHead head_{nullptr};
  torch::Tensor pixel_mean_, pixel_std_;  // [1, 3, 1, 1]
};
TORCH_MODULE(RetinaNet);

}  // namespace focalab::models
