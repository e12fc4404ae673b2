#include "models/anchors/box_ops.h"

#include "test_util.h"

namespace focalab::models {
namespace {

using focalab::testing::expect_tensor_near;

// [0,0,10,10] vs [5,0,15,10]: intersection 50, union 150 -> 1/3; vs [20,20,30,30]: 0;
// vs itself: 1; vs [0,0,5,5] (inside): 25/100.
TEST(BoxOps, IouGolden) {
  auto a = torch::tensor({{0.f, 0.f, 10.f, 10.f}});
  auto b = torch::tensor({{5.f, 0.f, 15.f, 10.f}, {20.f, 20.f, 30.f, 30.f}, {0.f, 0.f, 10.f, 10.f},
                          {0.f, 0.f, 5.f, 5.f}});
  expect_tensor_near(box_iou(a, b), torch::tensor({{1.f / 3, 0.f, 1.f, 0.25f}}));
}

// Scores .9, .8, .7: box 1 overlaps box 0 with IoU 0.68 (> .5) and is dropped; box 2 is far.
TEST(BoxOps, NmsKeepsHighestAndDropsOverlaps) {
  auto boxes = torch::tensor({{0.f, 0.f, 10.f, 10.f}, {1.f, 1.f, 11.f, 11.f}, {50.f, 50.f, 60.f, 60.f}});
  auto scores = torch::tensor({0.9f, 0.8f, 0.7f});
  auto keep = nms(boxes, scores, 0.5);
  ASSERT_EQ(keep.numel(), 2);
  EXPECT_EQ(keep[0].item<int64_t>(), 0);
  EXPECT_EQ(keep[1].item<int64_t>(), 2);
  // At IoU threshold 0.7, 0.68 is below: all kept, by decreasing score.
  EXPECT_EQ(nms(boxes, scores, 0.7).numel(), 3);
}

// max_keep stops early with exactly the first max_keep indices of the full result (what OHEM
// uses): 2,000 random overlapping boxes, thresholds .5 and .7.
TEST(BoxOps, NmsMaxKeepIsAPrefixOfTheFullResult) {
  torch::manual_seed(0);
  auto xy = torch::rand({2000, 2}) * 100;
  auto wh = torch::rand({2000, 2}) * 30 + 5;
  auto boxes = torch::cat({xy, xy + wh}, 1);
  auto scores = torch::rand({2000});
  for (double thresh : {0.5, 0.7}) {
    auto full = nms(boxes, scores, thresh);
    ASSERT_GT(full.numel(), 300) << thresh;
    for (int64_t max_keep : {0L, 1L, 128L, 300L}) {
      auto part = nms(boxes, scores, thresh, max_keep);
      ASSERT_EQ(part.numel(), max_keep) << thresh;
      EXPECT_TRUE(torch::equal(part, full.narrow(0, 0, max_keep))) << thresh << " " << max_keep;
    }
    EXPECT_TRUE(torch::equal(nms(boxes, scores, thresh, full.numel() + 10), full));
  }
}

TEST(BoxOps, BatchedNmsSeparatesClasses) {
  auto boxes = torch::tensor({{0.f, 0.f, 10.f, 10.f}, {1.f, 1.f, 11.f, 11.f}});
  auto scores = torch::tensor({0.9f, 0.8f});
  EXPECT_EQ(batched_nms(boxes, scores, torch::tensor({0L, 1L}), 0.5).numel(), 2);
  EXPECT_EQ(batched_nms(boxes, scores, torch::tensor({1L, 1L}), 0.5).numel(), 1);
}

TEST(BoxOps, ClipBoxes) {
  auto out = clip_boxes(torch::tensor({{-5.f, -1.f, 130.f, 60.f}}), 64, 128);
  expect_tensor_near(out, torch::tensor({{0.f, 0.f, 128.f, 60.f}}));
}

}  // namespace
}  // namespace focalab::models
