// The torchvision-equivalent input transform. Golden sizes computed with torchvision 0.14's
// GeneralizedRCNNTransform (python: transform([torch.rand(3, H, W)])[0].image_sizes).

#include "models/transform.h"
#include "test_util.h"

namespace focalab::models {
namespace {

TEST(Transform, ResizedSizesMatchTorchvision) {
  // 237 x 311 at 320 / 480: float32 320 / 237 makes 237 * s = 319.99..., floored to 319
  EXPECT_EQ(resized_size({237, 311}, 320, 480).first, (ImageSize{319, 419}));
  // 480 x 640 at 800 / 1333: shorter side to 800
  EXPECT_EQ(resized_size({480, 640}, 800, 1333).first, (ImageSize{800, 1066}));
  // 300 x 1000 at 800 / 1333: longer side bound wins, 1333 / 1000
  EXPECT_EQ(resized_size({300, 1000}, 800, 1333).first, (ImageSize{399, 1333}));
  // already at size: unchanged
  EXPECT_EQ(resized_size({600, 800}, 600, 1000).first, (ImageSize{600, 800}));
}

TEST(Transform, PadsToTheDivisorWithTheMean) {
  TransformOptions o;
  o.min_size = 40;
  o.max_size = 100;
  o.size_divisible = 32;
  auto batch = transform_images({torch::ones({3, 20, 30}), torch::zeros({3, 40, 20})}, o);
  // 20x30 -> 40x60; 40x20 -> 80x40 (max 100 not reached); batch 80 x 60 padded to 96 x 64
  EXPECT_EQ(batch.images.sizes(), (std::vector<int64_t>{2, 3, 96, 64}));
  EXPECT_EQ(batch.image_sizes[0], (ImageSize{40, 60}));
  EXPECT_EQ(batch.image_sizes[1], (ImageSize{80, 40}));
  EXPECT_EQ(batch.original_sizes[1], (ImageSize{40, 20}));
  EXPECT_FLOAT_EQ(batch.images[0][0][10][10].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(batch.images[0][0][50][10].item<float>(), 0.485f);  // padded: mean
  EXPECT_FLOAT_EQ(batch.images[0][2][10][62].item<float>(), 0.406f);
}

TEST(Transform, ResizeBoxesScalesXAndY) {
  auto boxes = torch::tensor({{10.f, 20.f, 30.f, 40.f}});
  auto back = resize_boxes(boxes, {100, 200}, {50, 400});
  testing::expect_tensor_near(back, torch::tensor({{20.f, 10.f, 60.f, 20.f}}));
}

}  // namespace
}  // namespace focalab::models
