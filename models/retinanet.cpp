#include "models/retinanet.h"

#include <torch/torch.h>

namespace focalab::models {

namespace {
RetinaNetOptions resolved(RetinaNetOptions options) {
  options.head.channels = options.fpn.out_channels;
  options.head.num_anchors = AnchorGenerator(options.anchors).num_anchors_per_location();
  return options;
}
}  // namespace

RetinaNetImpl::RetinaNetImpl(RetinaNetOptions options)
    : options_(resolved(std::move(options))), anchor_generator_(options_.anchors) {
  TORCH_CHECK(anchor_generator_.num_levels() == 5, "RetinaNet: anchors must describe 5 levels ",
              "(P3..P7), got ", anchor_generator_.num_levels());
  backbone_ = register_module("backbone", ResNet(options_.backbone));
  fpn_ = register_module("fpn", Fpn(backbone_->out_channels(), options_.fpn));
  head_ = register_module("head", RetinaNetHead(options_.head));
  pixel_mean_ = register_buffer(
      "pixel_mean", torch::tensor({options_.pixel_mean[0], options_.pixel_mean[1],
                                   options_.pixel_mean[2]}, torch::kFloat).view({1, 3, 1, 1}));
  pixel_std_ = register_buffer(
      "pixel_std", torch::tensor({options_.pixel_std[0], options_.pixel_std[1],
                                  options_.pixel_std[2]}, torch::kFloat).view({1, 3, 1, 1}));
}

torch::Tensor RetinaNetImpl::normalize(const torch::Tensor& images) const {
  return (images - pixel_mean_) / pixel_std_;
}

RetinaNetOutputs RetinaNetImpl::forward(const torch::Tensor& images) {
  return forward(images, {});
}

RetinaNetOutputs RetinaNetImpl::forward(const torch::Tensor& images,
                                        const std::function<void(const char*)>& mark) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "RetinaNet: images must be [N, 3, H, W], ",
              "got ", images.sizes());
  auto x = normalize(images);
  auto c = backbone_(x);
  if (mark) mark("backbone");
  auto features = fpn_(c);
  if (mark) mark("fpn");
  auto head_out = head_(features);
  std::vector<std::pair<int64_t, int64_t>> sizes;
  std::vector<int64_t> per_level;
  const int64_t a = anchor_generator_.num_anchors_per_location();
  for (const auto& f : features) {
    sizes.emplace_back(f.size(2), f.size(3));
    per_level.push_back(f.size(2) * f.size(3) * a);
  }
  auto anchors = anchor_generator_.grid_anchors(sizes, {images.size(2), images.size(3)}, images.device());
  if (mark) mark("heads");
  return {head_out.cls_logits, head_out.box_deltas, anchors, per_level};
}

}  // namespace focalab::models
