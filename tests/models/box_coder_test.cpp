#include "models/anchors/box_coder.h"

#include <cmath>

#include "test_util.h"

namespace focalab::models {
namespace {

using focalab::testing::expect_tensor_near;

// anchor [0,0,10,10]: centre (5,5), size 10x10; box [1,2,11,22]: centre (6,12), size 10x20.
// dx = (6-5)/10 = 0.1, dy = (12-5)/10 = 0.7, dw = log(10/10) = 0, dh = log(20/10) = 0.693147.
TEST(BoxCoder, EncodeGolden) {
  BoxCoder coder;
  auto d = coder.encode(torch::tensor({{0.f, 0.f, 10.f, 10.f}}), torch::tensor({{1.f, 2.f, 11.f, 22.f}}));
  expect_tensor_near(d, torch::tensor({{0.1f, 0.7f, 0.f, 0.693147f}}));
}

TEST(BoxCoder, WeightsScaleTargets) {
  BoxCoderOptions o;
  o.weights = {10, 10, 5, 5};  // Faster R-CNN's weights
  BoxCoder coder(o);
  auto d = coder.encode(torch::tensor({{0.f, 0.f, 10.f, 10.f}}), torch::tensor({{1.f, 2.f, 11.f, 22.f}}));
  expect_tensor_near(d, torch::tensor({{1.f, 7.f, 0.f, 3.465736f}}));
}

TEST(BoxCoder, DecodeInvertsEncode) {
  BoxCoder coder;
  auto anchors = torch::tensor({{0.f, 0.f, 10.f, 10.f}, {-8.f, 4.f, 24.f, 20.f}});
  auto boxes = torch::tensor({{1.f, 2.f, 11.f, 22.f}, {0.f, 0.f, 40.f, 8.f}});
  expect_tensor_near(coder.decode(coder.encode(anchors, boxes), anchors), boxes, 1e-4);
}

// dw = 10 is clamped to log(1000/16): the 10-pixel anchor grows to 10 * 62.5 = 625 pixels.
TEST(BoxCoder, DecodeClampsLargeScales) {
  BoxCoder coder;
  auto out = coder.decode(torch::tensor({{0.f, 0.f, 10.f, 0.f}}), torch::tensor({{0.f, 0.f, 10.f, 10.f}}));
  expect_tensor_near(out, torch::tensor({{5.f - 312.5f, 0.f, 5.f + 312.5f, 10.f}}), 1e-3);
}

}  // namespace
}  // namespace focalab::models
