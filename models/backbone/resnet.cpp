#include "models/backbone/resnet.h"

#include <torch/torch.h>

namespace focalab::models {
inline namespace backbone {

namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(
      nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

void init_conv(nn::Conv2d& c) {
  // torchvision ResNet: kaiming_normal_(mode="fan_out", nonlinearity="relu")
  nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
}

// Basic (two 3x3 convs) or bottleneck (1x1, 3x3, 1x1) residual block. Stride on the 3x3 conv
// (torchvision's "ResNet v1.5").
class BlockImpl : public nn::Module {
 public:
  BlockImpl(int64_t in, int64_t planes, int64_t stride, bool bottleneck, NormKind norm)
      : bottleneck_(bottleneck), stride_(stride) {
    const int64_t expansion = bottleneck ? 4 : 1;
    const int64_t out = planes * expansion;
    if (bottleneck) {
      conv1_ = register_module("conv1", conv(in, planes, 1, 1));
      bn1_ = register_module("bn1", BatchNorm2d(planes, norm));
      conv2_ = register_module("conv2", conv(planes, planes, 3, stride));
      bn2_ = register_module("bn2", BatchNorm2d(planes, norm));
      conv3_ = register_module("conv3", conv(planes, out, 1, 1));
      bn3_ = register_module("bn3", BatchNorm2d(out, norm));
      init_conv(conv3_);
    } else {
      conv1_ = register_module("conv1", conv(in, planes, 3, stride));
      bn1_ = register_module("bn1", BatchNorm2d(planes, norm));
      conv2_ = register_module("conv2", conv(planes, planes, 3, 1));
      bn2_ = register_module("bn2", BatchNorm2d(planes, norm));
    }
    init_conv(conv1_);
    init_conv(conv2_);
    if (stride != 1 || in != out) {
      auto down_conv = conv(in, out, 1, stride);
      init_conv(down_conv);
      down_bn_ = BatchNorm2d(out, norm);
      downsample_ = register_module("downsample", nn::Sequential(down_conv, down_bn_));
      down_conv_ = down_conv;
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    // ReLU and the residual add in place, as torchvision (inplace=True): fewer large buffers
    // (stride on conv1 of basic blocks, on conv2 of bottlenecks)
    auto y = conv_norm(x, conv1_->weight, bottleneck_ ? 1 : stride_, bottleneck_ ? 0 : 1, *bn1_)
                 .relu_();
    y = conv_norm(y, conv2_->weight, bottleneck_ ? stride_ : 1, 1, *bn2_);
    if (bottleneck_) y = conv_norm(y.relu_(), conv3_->weight, 1, 0, *bn3_);
    auto identity = downsample_ ? conv_norm(x, down_conv_->weight, stride_, 0, *down_bn_) : x;
    return y.add_(identity).relu_();
  }

 private:
  bool bottleneck_;
  int64_t stride_;
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  nn::Sequential downsample_{nullptr};
  nn::Conv2d down_conv_{nullptr};  // downsample's modules
  BatchNorm2d down_bn_{nullptr};
};
TORCH_MODULE(Block);

struct Preset {
  std::vector<int64_t> blocks;  // blocks per stage
  int64_t width;                // planes of layer1
  bool bottleneck;
};

Preset preset_for(const std::string& name) {
  if (name == "tiny") return {{1, 1, 1, 1}, 16, false};
  if (name == "resnet18") return {{2, 2, 2, 2}, 64, false};
  if (name == "resnet34") return {{3, 4, 6, 3}, 64, false};
  if (name == "resnet50") return {{3, 4, 6, 3}, 64, true};
  if (name == "resnet101") return {{3, 4, 23, 3}, 64, true};
  TORCH_CHECK(false, "ResNet: unknown preset '", name,
              "' (allowed: tiny, resnet18, resnet34, resnet50, resnet101)");
}

}  // namespace

ResNetImpl::ResNetImpl(ResNetOptions options) : options_(std::move(options)) {
  const Preset p = preset_for(options_.preset);
  const int64_t expansion = p.bottleneck ? 4 : 1;
  conv1_ = register_module(
      "conv1", nn::Conv2d(nn::Conv2dOptions(3, p.width, 7).stride(2).padding(3).bias(false)));
  init_conv(conv1_);
  bn1_ = register_module("bn1", BatchNorm2d(p.width, options_.norm));
  int64_t in = p.width;
  std::vector<nn::Sequential> layers;
  for (size_t s = 0; s < 4; ++s) {
    const int64_t planes = p.width << s;
    nn::Sequential layer;
    for (int64_t b = 0; b < p.blocks[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      layer->push_back(Block(in, planes, stride, p.bottleneck, options_.norm));
      in = planes * expansion;
    }
    layers.push_back(register_module("layer" + std::to_string(s + 1), layer));
    if (s >= 1) out_channels_.push_back(in);
  }
  layer1_ = layers[0];
  layer2_ = layers[1];
  layer3_ = layers[2];
  layer4_ = layers[3];

  TORCH_CHECK(options_.frozen_stages >= 0 && options_.frozen_stages <= 5,
              "ResNet: frozen_stages must be in [0, 5], got ", options_.frozen_stages);
  if (options_.frozen_stages >= 1) {
    for (auto& param : conv1_->parameters()) param.requires_grad_(false);
    for (auto& param : bn1_->parameters()) param.requires_grad_(false);
  }
  for (int64_t s = 1; s < options_.frozen_stages; ++s) {
    for (auto& param : layers[static_cast<size_t>(s - 1)]->parameters()) {
      param.requires_grad_(false);
    }
  }
}

BackboneFeatures ResNetImpl::forward(const torch::Tensor& images) {
  auto x = conv_norm(images, conv1_->weight, 2, 3, *bn1_).relu_();
  x = torch::max_pool2d(x, 3, 2, 1);
  x = layer1_->forward(x);
  auto c3 = layer2_->forward(x);
  auto c4 = layer3_->forward(c3);
  auto c5 = layer4_->forward(c4);
  return {c3, c4, c5};
}

}  // namespace backbone
}  // namespace focalab::models
