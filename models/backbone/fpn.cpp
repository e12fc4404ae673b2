#include "models/backbone/fpn.h"

#include <torch/torch.h>

namespace focalab::models {
inline namespace backbone {

namespace nn = torch::nn;

namespace {
nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  nn::Conv2d conv(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
  // torchvision FPN / LastLevelP6P7: kaiming_uniform_(a=1), bias 0
  nn::init::kaiming_uniform_(conv->weight, 1.0);
  nn::init::zeros_(conv->bias);
  return conv;
}
}  // namespace

FpnImpl::FpnImpl(std::vector<int64_t> in_channels, FpnOptions options) : options_(options) {
  TORCH_CHECK(in_channels.size() == 3, "Fpn: expected 3 input levels (C3..C5), got ",
              in_channels.size());
  const int64_t out = options_.out_channels;
  inner_blocks_ = register_module("inner_blocks", nn::ModuleList());
  layer_blocks_ = register_module("layer_blocks", nn::ModuleList());
  for (int64_t in : in_channels) {
    inner_blocks_->push_back(make_conv(in, out, 1, 1));
    layer_blocks_->push_back(make_conv(out, out, 3, 1));
  }
  const int64_t p6_in = options_.p6_source == P6Source::kC5 ? in_channels.back() : out;
  p6_ = register_module("p6", make_conv(p6_in, out, 3, 2));
  p7_ = register_module("p7", make_conv(out, out, 3, 2));
}

std::vector<torch::Tensor> FpnImpl::forward(const BackboneFeatures& c) {
  const std::vector<torch::Tensor> inputs = {c.c3, c.c4, c.c5};
  std::vector<torch::Tensor> results(3);
  auto last_inner = inner_blocks_[2]->as<nn::Conv2d>()->forward(inputs[2]);
  results[2] = layer_blocks_[2]->as<nn::Conv2d>()->forward(last_inner);
  for (int i = 1; i >= 0; --i) {
    auto lateral = inner_blocks_[i]->as<nn::Conv2d>()->forward(inputs[i]);
    auto top_down = torch::nn::functional::interpolate(
        last_inner, torch::nn::functional::InterpolateFuncOptions()
                        .size(std::vector<int64_t>{lateral.size(2), lateral.size(3)})
                        .mode(torch::kNearest));
    last_inner = lateral + top_down;
    results[i] = layer_blocks_[i]->as<nn::Conv2d>()->forward(last_inner);
  }
  auto p6 = p6_(options_.p6_source == P6Source::kC5 ? inputs[2] : results[2]);
  auto p7 = p7_(torch::relu(p6));
  results.push_back(p6);
  results.push_back(p7);
  return results;
}

}  // namespace backbone
}  // namespace focalab::models
