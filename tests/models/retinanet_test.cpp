#include "models/retinanet.h"

#include <cmath>

#include "models/anchors/anchor_labels.h"
#include "models/anchors/box_ops.h"
#include "models/postprocess.h"
#include "test_util.h"

namespace focalab::models {
namespace {

RetinaNetOptions tiny_options(int64_t num_classes) {
  RetinaNetOptions o;
  o.backbone.preset = "tiny";
  o.backbone.norm = NormKind::kBatchNorm;
  o.backbone.frozen_stages = 0;
  o.fpn.out_channels = 32;
  o.head.num_classes = num_classes;
  o.head.num_convs = 1;
  return o;
}

// 128 x 128 input: P3..P7 are 16, 8, 4, 2, 1 pixels wide; 9 anchors per location.
TEST(RetinaNet, OutputShapes) {
  torch::manual_seed(0);
  RetinaNet model(tiny_options(3));
  auto out = model->forward(torch::rand({2, 3, 128, 128}));
  const int64_t r = 9 * (256 + 64 + 16 + 4 + 1);
  EXPECT_EQ(out.cls_logits.sizes(), (std::vector<int64_t>{2, r, 3}));
  EXPECT_EQ(out.box_deltas.sizes(), (std::vector<int64_t>{2, r, 4}));
  EXPECT_EQ(out.anchors.sizes(), (std::vector<int64_t>{r, 4}));
  EXPECT_EQ(out.anchors_per_level, (std::vector<int64_t>{2304, 576, 144, 36, 9}));
}

// Paper §4.1: bias = -log((1 - pi) / pi); pi = 0.01 -> -4.59512. Weights ~ N(0, 0.01) make every
// initial score about pi.
TEST(RetinaNet, PriorProbabilityInit) {
  torch::manual_seed(0);
  RetinaNet model(tiny_options(3));
  auto params = model->named_parameters();
  auto bias = params["head.classification_head.cls_logits.bias"];
  ASSERT_TRUE(bias.defined());
  EXPECT_NEAR(bias[0].item<double>(), -4.59512, 1e-4);
  torch::NoGradGuard ng;
  model->eval();
  auto p = torch::sigmoid(model->forward(torch::rand({1, 3, 128, 128})).cls_logits);
  EXPECT_NEAR(p.mean().item<double>(), 0.01, 0.003);
}

// torchvision's parameter names, so that weights can be mapped one to one.
TEST(RetinaNet, TorchvisionParameterNames) {
  auto o = tiny_options(3);
  o.backbone.preset = "resnet50";
  RetinaNet model(o);
  auto params = model->named_parameters();
  for (const char* name : {"backbone.conv1.weight", "backbone.bn1.weight",
                           "backbone.layer1.0.conv3.weight", "backbone.layer4.0.downsample.0.weight",
                           "fpn.inner_blocks.0.weight", "fpn.layer_blocks.2.bias", "fpn.p6.weight",
                           "fpn.p7.weight", "head.classification_head.conv.0.weight",
                           "head.regression_head.bbox_reg.weight"}) {
    EXPECT_TRUE(params.contains(name)) << name;
  }
  EXPECT_TRUE(model->named_buffers().contains("backbone.layer1.0.bn1.running_var"));
}

// One GT box exactly equal to an anchor: that anchor is positive for its class; decoding zero
// deltas reproduces anchors; postprocess returns the box with the highest score.
TEST(RetinaNet, LabelAnchorsAndPostprocessRoundTrip) {
  AnchorGenerator gen;
  auto anchors = gen.grid_anchors({{4, 4}, {2, 2}, {1, 1}, {1, 1}, {1, 1}}, {32, 32}, torch::kCPU);
  const int64_t r = anchors.size(0);
  auto gt = anchors[20].unsqueeze(0).clone();  // some P3 anchor
  auto t = label_anchors(anchors, {gt}, {torch::tensor({2L})}, Matcher());
  EXPECT_EQ(t.labels[0][20].item<int>(), 1);
  EXPECT_EQ(t.gt_classes[0][20].item<int64_t>(), 2);
  EXPECT_NEAR(t.max_iou[0][20].item<double>(), 1.0, 1e-6);

  auto logits = torch::full({r, 3}, -10.f);
  logits[20][2] = 5.f;
  std::vector<int64_t> per_level = {144, 36, 9, 9, 9};
  auto det = postprocess_detections(logits, torch::zeros({r, 4}), anchors, per_level, 1024, 1024,
                                    BoxCoder(), PostprocessOptions());
  ASSERT_EQ(det.scores.numel(), 1);
  EXPECT_EQ(det.labels[0].item<int64_t>(), 2);
  focalab::testing::expect_tensor_near(det.boxes[0], models::clip_boxes(gt, 1024, 1024)[0]);
}

// Crowd regions (COCO iscrowd): a negative anchor covered >= 70% by one is ignored; positives and
// anchors mostly outside stay as they are. Hand-computed intersections over the anchor's area.
TEST(RetinaNet, LabelAnchorsIgnoresNegativesInsideCrowdRegions) {
  auto anchors = torch::tensor({{0.f, 0.f, 10.f, 10.f},     // inside the crowd region: IoA 1
                                {15.f, 0.f, 25.f, 10.f},    // IoA 0.5 (x 15..20 of 15..25)
                                {12.f, 0.f, 22.f, 10.f},    // IoA 0.8
                                {40.f, 40.f, 50.f, 50.f},   // the GT box: positive
                                {100.f, 100.f, 110.f, 110.f}});  // far from all: negative
  auto gt = torch::tensor({{40.f, 40.f, 50.f, 50.f}});
  auto crowd = torch::tensor({{-5.f, -5.f, 20.f, 20.f}});
  auto t = label_anchors(anchors, {gt}, {torch::tensor({0L})}, Matcher(), {crowd});
  EXPECT_EQ(t.labels[0][0].item<int>(), -1);
  EXPECT_EQ(t.labels[0][1].item<int>(), 0);
  EXPECT_EQ(t.labels[0][2].item<int>(), -1);
  EXPECT_EQ(t.labels[0][3].item<int>(), 1);
  EXPECT_EQ(t.labels[0][4].item<int>(), 0);
  // an image with only a crowd region
  auto only_crowd = label_anchors(anchors, {torch::zeros({0, 4})}, {torch::zeros({0}, torch::kLong)},
                                  Matcher(), {crowd});
  EXPECT_EQ(only_crowd.labels[0][0].item<int>(), -1);
  EXPECT_EQ(only_crowd.labels[0][4].item<int>(), 0);
}

}  // namespace
// A frozen batch norm folded into its convolution (conv_norm) computes bn(conv(x)) — values and
// the gradients of the input and of the convolution's weight — to float rounding.
TEST(ConvNorm, FrozenBatchNormFoldsIntoTheConvolution) {
  torch::manual_seed(0);
  BatchNorm2d bn(8, NormKind::kFrozenBatchNorm);
  {
    torch::NoGradGuard no_grad;
    for (auto& t : bn->parameters()) t.uniform_(0.5, 1.5);
    for (auto& t : bn->buffers()) t.uniform_(0.1, 2.0);  // running mean and variance
  }
  for (int64_t stride : {1, 2}) {
    auto x = torch::randn({2, 4, 9, 11}, torch::requires_grad());
    auto w = torch::randn({8, 4, 3, 3}, torch::requires_grad());
    auto folded = conv_norm(x, w, stride, 1, *bn);
    auto gx_w = torch::autograd::grad({(folded * folded).sum()}, {x, w});
    auto plain = bn(torch::conv2d(x, w, {}, stride, 1));
    auto gp_w = torch::autograd::grad({(plain * plain).sum()}, {x, w});
    ASSERT_EQ(folded.sizes(), plain.sizes());
    EXPECT_TRUE(torch::allclose(folded, plain, 1e-5, 1e-5)) << "stride " << stride;
    EXPECT_TRUE(torch::allclose(gx_w[0], gp_w[0], 1e-4, 1e-4)) << "stride " << stride;
    EXPECT_TRUE(torch::allclose(gx_w[1], gp_w[1], 1e-4, 1e-4)) << "stride " << stride;
    // the frozen statistics matter: scale and shift are not the identity here
    EXPECT_GT((plain - torch::conv2d(x, w, {}, stride, 1)).abs().max().item<double>(), 0.1);
  }
  // a trained batch norm is applied after the convolution, as it is
  BatchNorm2d trained(8, NormKind::kBatchNorm);
  trained->eval();
  auto x = torch::randn({2, 4, 9, 11});
  auto w = torch::randn({8, 4, 1, 1});
  EXPECT_TRUE(torch::equal(conv_norm(x, w, 1, 0, *trained), trained(torch::conv2d(x, w))));
}

}  // namespace focalab::models
