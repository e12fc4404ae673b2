#include "harness/coco_eval.h"

#include <gtest/gtest.h>

namespace focalab::harness {
namespace {

GroundTruth gt(int64_t image, int64_t cat, EvalBox b) {
  return {image, cat, b, (b.x2 - b.x1) * (b.y2 - b.y1)};
}

// Every GT found exactly, nothing else: AP = AR = 1 at every threshold.
TEST(CocoEval, PerfectDetectionsScoreOne) {
  std::vector<GroundTruth> gts = {gt(1, 0, {0, 0, 50, 50}), gt(2, 1, {10, 10, 20, 40})};
  std::vector<Detection> dts = {{1, 0, {0, 0, 50, 50}, 0.9}, {2, 1, {10, 10, 20, 40}, 0.8}};
  auto s = evaluate_coco({1, 2}, 2, gts, dts);
  EXPECT_DOUBLE_EQ(s.ap(), 1.0);
  EXPECT_DOUBLE_EQ(s.ap50(), 1.0);
  EXPECT_DOUBLE_EQ(s.stats[8], 1.0);  // AR100
  EXPECT_DOUBLE_EQ(s.stats[3], 1.0);  // APs: the 10x30 GT (300 px²) is small
}

// A false positive ranked above the true positive: precision at recall 1 is 1/2, so every one of
// the 101 recall points samples 0.5 (COCO does not interpolate to precision 1 at recall 0).
TEST(CocoEval, FalsePositiveFirstHalvesPrecision) {
  std::vector<GroundTruth> gts = {gt(1, 0, {0, 0, 10, 10})};
  std::vector<Detection> dts = {{1, 0, {50, 50, 60, 60}, 0.9}, {1, 0, {0, 0, 10, 10}, 0.5}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.ap50(), 0.5);
  EXPECT_DOUBLE_EQ(s.ap(), 0.5);
  EXPECT_DOUBLE_EQ(s.stats[6], 0.0);  // AR1: only the (wrong) top detection counts
  EXPECT_DOUBLE_EQ(s.stats[7], 1.0);  // AR10
}

// IoU .62 ([0,0,10,6.2] in [0,0,10,10]) is a match at thresholds .50, .55, .60 only: 3 of 10.
TEST(CocoEval, IouThresholdsAverage) {
  std::vector<GroundTruth> gts = {gt(1, 0, {0, 0, 10, 10})};
  std::vector<Detection> dts = {{1, 0, {0, 0, 10, 6.2}, 0.9}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_NEAR(s.ap(), 0.3, 1e-12);
  EXPECT_DOUBLE_EQ(s.ap50(), 1.0);
  EXPECT_DOUBLE_EQ(s.ap75(), 0.0);
}

// Category 1 has no GT: its AP is -1 and it does not enter the mean; a missed GT of category 0
// in a second image halves recall: precision 1 up to recall .5 -> 51 of 101 points.
TEST(CocoEval, CategoriesWithoutGtAreExcluded) {
  std::vector<GroundTruth> gts = {gt(1, 0, {0, 0, 10, 10}), gt(2, 0, {0, 0, 10, 10})};
  std::vector<Detection> dts = {{1, 0, {0, 0, 10, 10}, 0.9}, {1, 1, {0, 0, 10, 10}, 0.9}};
  auto s = evaluate_coco({1, 2}, 2, gts, dts);
  EXPECT_DOUBLE_EQ(s.class_ap[1], -1.0);
  EXPECT_NEAR(s.class_ap[0], 51.0 / 101.0, 1e-12);
  EXPECT_NEAR(s.ap(), 51.0 / 101.0, 1e-12);
}

// Area ranges: a 40x40 GT (1600 px²) is medium; small and large have no GT -> -1.
TEST(CocoEval, AreaRanges) {
  std::vector<GroundTruth> gts = {gt(1, 0, {0, 0, 40, 40})};
  std::vector<Detection> dts = {{1, 0, {0, 0, 40, 40}, 0.9}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.stats[3], -1.0);  // APs
  EXPECT_DOUBLE_EQ(s.stats[4], 1.0);   // APm
  EXPECT_DOUBLE_EQ(s.stats[5], -1.0);  // APl
}

// Crowd GT: a detection inside it is ignored (neither TP nor FP), and the crowd is not a GT to
// find, so the remaining real GT alone decides AP.
TEST(CocoEval, CrowdRegionsAreIgnored) {
  std::vector<GroundTruth> gts = {gt(1, 0, {0, 0, 10, 10}), gt(1, 0, {100, 100, 200, 200})};
  gts[1].iscrowd = true;
  std::vector<Detection> dts = {{1, 0, {120, 120, 140, 140}, 0.95}, {1, 0, {0, 0, 10, 10}, 0.5}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.ap(), 1.0);
}

}  // namespace
}  // namespace focalab::harness
