#include "models/anchors/anchor_generator.h"

#include "test_util.h"

namespace focalab::models {
namespace {

using focalab::testing::expect_tensor_near;

// Golden values: torchvision's AnchorGenerator.generate_anchors formula, by hand:
// ratio r -> h = size*sqrt(r), w = size/sqrt(r); anchor = round([-w, -h, w, h] / 2).
// size 32: r=.5 -> w=45.25, h=22.63 -> [-23,-11,23,11]; r=1 -> [-16,-16,16,16];
// r=2 -> [-11,-23,11,23].
TEST(AnchorGenerator, CellAnchorsMatchTorchvisionFormula) {
  AnchorGeneratorOptions o;
  o.sizes = {32, 64, 128, 256, 512};
  o.scales_per_octave = 1;
  AnchorGenerator gen(o);
  EXPECT_EQ(gen.num_anchors_per_location(), 3);
  expect_tensor_near(gen.cell_anchors(0), torch::tensor({{-23.f, -11.f, 23.f, 11.f},
                                                         {-16.f, -16.f, 16.f, 16.f},
                                                         {-11.f, -23.f, 11.f, 23.f}}));
}

// Scales per octave 2 on size 32, ratio 1: sizes 32 and 32*sqrt(2) = 45.25 -> half 22.63 -> 23.
TEST(AnchorGenerator, ScalesPerOctaveAreSubOctaves) {
  AnchorGeneratorOptions o;
  o.scales_per_octave = 2;
  o.aspect_ratios = {1.0};
  AnchorGenerator gen(o);
  expect_tensor_near(gen.cell_anchors(0),
                     torch::tensor({{-16.f, -16.f, 16.f, 16.f}, {-23.f, -23.f, 23.f, 23.f}}));
  // P7 (size 512): 512 and 724.08 -> half 256 and 362.04 -> 362.
  expect_tensor_near(gen.cell_anchors(4),
                     torch::tensor({{-256.f, -256.f, 256.f, 256.f}, {-362.f, -362.f, 362.f, 362.f}}));
}

// Grid order: locations row-major (y, then x), anchors within a location; shift = x * stride.
TEST(AnchorGenerator, GridAnchorsAreLocationMajor) {
  AnchorGeneratorOptions o;
  o.scales_per_octave = 1;
  o.aspect_ratios = {1.0};
  AnchorGenerator gen(o);
  auto anchors = gen.grid_anchors({{2, 2}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}, {16, 16}, torch::kCPU);
  ASSERT_EQ(anchors.sizes(), (std::vector<int64_t>{4 + 4, 4}));
  expect_tensor_near(anchors.slice(0, 0, 4),
                     torch::tensor({{-16.f, -16.f, 16.f, 16.f},    // (y=0, x=0)
                                    {-8.f, -16.f, 24.f, 16.f},     // (y=0, x=1): +8 in x
                                    {-16.f, -8.f, 16.f, 24.f},     // (y=1, x=0): +8 in y
                                    {-8.f, -8.f, 24.f, 24.f}}));
  expect_tensor_near(anchors[4], torch::tensor({-32.f, -32.f, 32.f, 32.f}));  // P4, size 64
}

// Golden: torchvision 0.14 AnchorGenerator(sizes=((32, 40, 50), ...), ratios (0.5, 1, 2)) as
// retinanet_resnet50_fpn builds it; cell_anchors[0] and [2] printed from Python. Level 2 checks
// the round-half-to-even tie 203 / 2 = 101.5 -> 102.
TEST(AnchorGenerator, IntegerSizesMatchTorchvisionRetinaNet) {
  AnchorGeneratorOptions o;
  o.integer_sizes = true;
  AnchorGenerator gen(o);
  expect_tensor_near(gen.cell_anchors(0),
                     torch::tensor({{-23.f, -11.f, 23.f, 11.f}, {-28.f, -14.f, 28.f, 14.f},
                                    {-35.f, -18.f, 35.f, 18.f}, {-16.f, -16.f, 16.f, 16.f},
                                    {-20.f, -20.f, 20.f, 20.f}, {-25.f, -25.f, 25.f, 25.f},
                                    {-11.f, -23.f, 11.f, 23.f}, {-14.f, -28.f, 14.f, 28.f},
                                    {-18.f, -35.f, 18.f, 35.f}}),
                     0.0);
  expect_tensor_near(gen.cell_anchors(2),
                     torch::tensor({{-91.f, -45.f, 91.f, 45.f}, {-114.f, -57.f, 114.f, 57.f},
                                    {-144.f, -72.f, 144.f, 72.f}, {-64.f, -64.f, 64.f, 64.f},
                                    {-80.f, -80.f, 80.f, 80.f}, {-102.f, -102.f, 102.f, 102.f},
                                    {-45.f, -91.f, 45.f, 91.f}, {-57.f, -114.f, 57.f, 114.f},
                                    {-72.f, -144.f, 72.f, 144.f}}),
                     0.0);
}

// Strides are image size // feature size per dimension (torchvision): a 256 x 352 input padded to
// 32 has a 4 x 6 P6, so P6's stride is 64 in y but 352 // 6 = 58 in x.
TEST(AnchorGenerator, StridesComeFromTheImageSize) {
  AnchorGeneratorOptions o;
  o.scales_per_octave = 1;
  o.aspect_ratios = {1.0};
  AnchorGenerator gen(o);
  auto anchors = gen.grid_anchors({{32, 44}, {16, 22}, {8, 11}, {4, 6}, {2, 3}}, {256, 352},
                                  torch::kCPU);
  const int64_t p6_start = 32 * 44 + 16 * 22 + 8 * 11;
  // P6 location (y=1, x=2): centre (2 * 58, 1 * 64), size 256
  expect_tensor_near(anchors[p6_start + 1 * 6 + 2],
                     torch::tensor({116.f - 128.f, 64.f - 128.f, 116.f + 128.f, 64.f + 128.f}),
                     0.0);
  // P7 location (y=1, x=1): strides 128 in y, 352 // 3 = 117 in x
  expect_tensor_near(anchors[p6_start + 24 + 1 * 3 + 1],
                     torch::tensor({117.f - 256.f, 128.f - 256.f, 117.f + 256.f, 128.f + 256.f}),
                     0.0);
}

}  // namespace
}  // namespace focalab::models
