#include "harness/eval/coco_eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "harness/eval/coco_files.h"
#include "harness/eval/coco_synth.h"
#include "harness/util/errors.h"
#include "harness/util/splitmix.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

// Boxes below are (x1, y1, x2, y2).
EvalBox c(double x1, double y1, double x2, double y2) { return EvalBox::corners(x1, y1, x2, y2); }

GroundTruth gt(int64_t image, int64_t cat, EvalBox b) { return {image, cat, b, b.w * b.h}; }

// Every GT found exactly, nothing else: AP = AR = 1 at every threshold.
TEST(CocoEval, PerfectDetectionsScoreOne) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 50, 50)), gt(2, 1, c(10, 10, 20, 40))};
  std::vector<Detection> dts = {{1, 0, c(0, 0, 50, 50), 0.9}, {2, 1, c(10, 10, 20, 40), 0.8}};
  auto s = evaluate_coco({1, 2}, 2, gts, dts);
  EXPECT_DOUBLE_EQ(s.ap(), 1.0);
  EXPECT_DOUBLE_EQ(s.ap50(), 1.0);
  EXPECT_DOUBLE_EQ(s.stats[8], 1.0);  // AR100
  EXPECT_DOUBLE_EQ(s.stats[3], 1.0);  // APs: the 10x30 GT (300 px²) is small
}

// A false positive ranked above the true positive: precision at recall 1 is 1/2, so every one of
// the 101 recall points samples 0.5 (COCO does not interpolate to precision 1 at recall 0).
TEST(CocoEval, FalsePositiveFirstHalvesPrecision) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 10, 10))};
  std::vector<Detection> dts = {{1, 0, c(50, 50, 60, 60), 0.9}, {1, 0, c(0, 0, 10, 10), 0.5}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.ap50(), 0.5);
  EXPECT_DOUBLE_EQ(s.ap(), 0.5);
  EXPECT_DOUBLE_EQ(s.stats[6], 0.0);  // AR1: only the (wrong) top detection counts
  EXPECT_DOUBLE_EQ(s.stats[7], 1.0);  // AR10
}

// IoU .62 ([0,0,10,6.2] in [0,0,10,10]) is a match at thresholds .50, .55, .60 only: 3 of 10.
TEST(CocoEval, IouThresholdsAverage) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 10, 10))};
  std::vector<Detection> dts = {{1, 0, c(0, 0, 10, 6.2), 0.9}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_NEAR(s.ap(), 0.3, 1e-12);
  EXPECT_DOUBLE_EQ(s.ap50(), 1.0);
  EXPECT_DOUBLE_EQ(s.ap75(), 0.0);
}

// Category 1 has no GT: its AP is -1 and it does not enter the mean; a missed GT of category 0
// in a second image halves recall: precision 1 up to recall .5 -> 51 of 101 points.
TEST(CocoEval, CategoriesWithoutGtAreExcluded) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 10, 10)), gt(2, 0, c(0, 0, 10, 10))};
  std::vector<Detection> dts = {{1, 0, c(0, 0, 10, 10), 0.9}, {1, 1, c(0, 0, 10, 10), 0.9}};
  auto s = evaluate_coco({1, 2}, 2, gts, dts);
  EXPECT_DOUBLE_EQ(s.class_ap[1], -1.0);
  EXPECT_NEAR(s.class_ap[0], 51.0 / 101.0, 1e-12);
  EXPECT_NEAR(s.ap(), 51.0 / 101.0, 1e-12);
}

// Area ranges: a 40x40 GT (1600 px²) is medium; small and large have no GT -> -1.
TEST(CocoEval, AreaRanges) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 40, 40))};
  std::vector<Detection> dts = {{1, 0, c(0, 0, 40, 40), 0.9}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.stats[3], -1.0);  // APs
  EXPECT_DOUBLE_EQ(s.stats[4], 1.0);   // APm
  EXPECT_DOUBLE_EQ(s.stats[5], -1.0);  // APl
}

// Crowd GT: a detection inside it is ignored (neither TP nor FP), and the crowd is not a GT to
// find, so the remaining real GT alone decides AP.
TEST(CocoEval, CrowdRegionsAreIgnored) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 10, 10)), gt(1, 0, c(100, 100, 200, 200))};
  gts[1].iscrowd = true;
  std::vector<Detection> dts = {{1, 0, c(120, 120, 140, 140), 0.95}, {1, 0, c(0, 0, 10, 10), 0.5}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.ap(), 1.0);
}

// Equal scores keep the image order (COCOeval concatenates images by increasing id, then merges
// with a stable sort): FP on image 1 before TP on image 2 gives precision .5 at recall 1; the
// same FP on image 3 comes after the TP and AP50 is 1.
TEST(CocoEval, TiedScoresFollowImageIdOrder) {
  std::vector<GroundTruth> gts = {gt(2, 0, c(0, 0, 10, 10))};
  std::vector<Detection> fp_first = {{1, 0, c(0, 0, 10, 10), 0.5}, {2, 0, c(0, 0, 10, 10), 0.5}};
  EXPECT_DOUBLE_EQ(evaluate_coco({2, 1}, 1, gts, fp_first).ap50(), 0.5);
  std::vector<Detection> fp_last = {{3, 0, c(0, 0, 10, 10), 0.5}, {2, 0, c(0, 0, 10, 10), 0.5}};
  EXPECT_DOUBLE_EQ(evaluate_coco({3, 2}, 1, gts, fp_last).ap50(), 1.0);
}

// Per image and category only the 100 best-scored detections count: a TP ranked 101st is cut
// (AR100 = 0); ranked 100th it is kept, at precision 1/100.
TEST(CocoEval, MaxDetsCutsAtOneHundredPerImage) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 10, 10))};
  for (int fps : {100, 99}) {
    std::vector<Detection> dts;
    for (int i = 0; i < fps; ++i) dts.push_back({1, 0, c(500 + i, 500, 510 + i, 510), 0.9});
    dts.push_back({1, 0, c(0, 0, 10, 10), 0.1});
    auto s = evaluate_coco({1}, 1, gts, dts);
    SCOPED_TRACE(fps);
    EXPECT_DOUBLE_EQ(s.stats[8], fps == 100 ? 0.0 : 1.0);  // AR100
    EXPECT_NEAR(s.ap50(), fps == 100 ? 0.0 : 0.01, 1e-15);
    EXPECT_DOUBLE_EQ(s.stats[7], 0.0);  // AR10: the TP is not among the first 10
  }
}

// An unmatched detection outside an area range is ignored in that range: a 100x100 FP above a
// small TP costs AP in "all" (precision .5) but not in "small".
TEST(CocoEval, UnmatchedDetectionsOutsideTheRangeAreIgnored) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 10, 10))};
  std::vector<Detection> dts = {{1, 0, c(200, 200, 300, 300), 0.9}, {1, 0, c(0, 0, 10, 10), 0.5}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.ap(), 0.5);
  EXPECT_DOUBLE_EQ(s.stats[3], 1.0);  // APs
}

// The GT's `area` field decides its range, not its box: a 40x40 box annotated with area 500
// is small.
TEST(CocoEval, AreaFieldDecidesTheRange) {
  std::vector<GroundTruth> gts = {{1, 0, c(0, 0, 40, 40), 500.0}};
  std::vector<Detection> dts = {{1, 0, c(0, 0, 40, 40), 0.9}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.stats[3], 1.0);   // APs
  EXPECT_DOUBLE_EQ(s.stats[4], -1.0);  // APm: no medium GT
}

// pycocotools records a match as the GT's id, so matching a GT whose id is 0 counts as a miss.
TEST(CocoEval, GtWithIdZeroNeverCountsAsFound) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 10, 10))};
  gts[0].id = 0;
  std::vector<Detection> dts = {{1, 0, c(0, 0, 10, 10), 0.9}};
  auto s = evaluate_coco({1}, 1, gts, dts);
  EXPECT_DOUBLE_EQ(s.ap(), 0.0);
  EXPECT_DOUBLE_EQ(s.stats[8], 0.0);
}

// Images without GT or detections change nothing; detections on an image without GT are FPs.
TEST(CocoEval, EmptyImages) {
  std::vector<GroundTruth> gts = {gt(1, 0, c(0, 0, 10, 10))};
  std::vector<Detection> dts = {{1, 0, c(0, 0, 10, 10), 0.9}};
  EXPECT_DOUBLE_EQ(evaluate_coco({1, 5, 9}, 1, gts, dts).ap(), 1.0);
  dts.push_back({5, 0, c(0, 0, 10, 10), 0.95});
  EXPECT_DOUBLE_EQ(evaluate_coco({1, 5, 9}, 1, gts, dts).ap(), 0.5);
}

// The bootstrap (evaluate_coco's `bootstrap`) counts each drawn image as often as it was drawn,
// reusing the matching: every replicate must equal a plain evaluation of the resampled image set
// written out — each draw a copy of its image under a new id. 12 images, 3 categories, TPs, FPs,
// misses, a crowd region and small / large objects; scores distinct across images (equal scores
// of different images would be ordered by id, which copies change).
TEST(CocoEval, BootstrapReplicatesEqualTheResampledSetEvaluated) {
  std::vector<GroundTruth> gts;
  std::vector<Detection> dts;
  std::vector<int64_t> ids;
  for (int64_t i = 1; i <= 12; ++i) {
    ids.push_back(i * 7);  // ids not 0..n-1: the draws index the sorted ids
    const double o = static_cast<double>(i % 4) * 3;
    gts.push_back(gt(i * 7, i % 3, c(o, o, o + 20 + i, o + 30)));
    if (i % 5 == 0) gts.push_back(gt(i * 7, (i + 1) % 3, c(40, 40, 44, 46)));  // small
    GroundTruth crowd = gt(i * 7, 0, c(60, 0, 90, 30));
    crowd.iscrowd = i == 6;
    if (i == 6) gts.push_back(crowd);
    const double score = 0.95 - 0.013 * static_cast<double>(i);
    if (i % 4 != 3) dts.push_back({i * 7, i % 3, c(o + 1, o, o + 20 + i, o + 31), score});
    dts.push_back({i * 7, (i + 2) % 3, c(5, 50, 25, 70), score - 0.004});  // a false positive
    if (i % 3 == 0) dts.push_back({i * 7, i % 3, c(o, o, o + 12, o + 18), score - 0.007});
  }
  const int64_t kReplicates = 6;
  const auto full = evaluate_coco(ids, 3, gts, dts, kReplicates);
  ASSERT_EQ(full.bootstrap.size(), static_cast<size_t>(kReplicates));
  EXPECT_EQ(evaluate_coco(ids, 3, gts, dts).stats, full.stats);  // the full set is unchanged
  const size_t n = ids.size();  // sorted already
  bool some_differ = false;
  for (int64_t r = 0; r < kReplicates; ++r) {
    std::vector<GroundTruth> rg;
    std::vector<Detection> rd;
    std::vector<int64_t> rids;
    for (size_t j = 0; j < n; ++j) {
      const uint64_t draw = splitmix64(kBootstrapSeed + static_cast<uint64_t>(r) * n + j);
      const int64_t src = ids[draw % n], copy = 1000 + static_cast<int64_t>(j);
      rids.push_back(copy);
      for (auto g : gts) {
        if (g.image_id == src) {
          g.image_id = copy;
          g.id = static_cast<int64_t>(rg.size()) + 1;
          rg.push_back(g);
        }
      }
      for (auto d : dts) {
        if (d.image_id == src) {
          d.image_id = copy;
          rd.push_back(d);
        }
      }
    }
    const auto s = evaluate_coco(rids, 3, rg, rd);
    const auto& b = full.bootstrap[static_cast<size_t>(r)];
    EXPECT_NEAR(b[0], s.ap(), 1e-12) << "replicate " << r;
    EXPECT_NEAR(b[1], s.ap50(), 1e-12) << "replicate " << r;
    EXPECT_NEAR(b[2], s.ap75(), 1e-12) << "replicate " << r;
    some_differ = some_differ || std::fabs(b[0] - full.ap()) > 1e-6;
  }
  EXPECT_TRUE(some_differ);  // the resamples are not the full set again
}

}  // namespace
}  // namespace focalab::harness

namespace focalab::harness {
namespace {

// The generators of `focalab bench eval|json` (harness/eval/coco_synth), read back by the reader
// and scored by the evaluation the benchmarks time.
TEST(CocoSynth, ValPairReadsBackAndItsGroundTruthScoresOne) {
  const focalab::testing::TempDir dir;
  const CocoValPair pair = generate_coco_val_pair(120, 30, 5);
  std::ofstream(dir.file("gt.json")) << pair.gt_json;
  std::ofstream(dir.file("dt.json")) << pair.dt_json;
  const CocoDataset gt = read_coco_dataset(dir.file("gt.json"));
  ASSERT_EQ(gt.images.size(), 120u);
  EXPECT_EQ(static_cast<int64_t>(gt.annotations.size()), pair.gt_boxes);
  EXPECT_GT(pair.gt_boxes, 120 * 5);  // 1..14 a image, mean ~7.3
  EXPECT_LT(pair.gt_boxes, 120 * 10);
  ASSERT_EQ(gt.categories.size(), 80u);  // COCO 2017's ids: 1..90 without the 10 unused
  EXPECT_EQ(gt.categories.front().id, 1);
  EXPECT_EQ(gt.categories.back().id, 90);
  for (const auto& c : gt.categories) EXPECT_NE(c.id, 12);
  const auto dt = read_coco_results(dir.file("dt.json"));
  EXPECT_EQ(dt.size(), 120u * 30u);
  // The non-crowd GT boxes as detections: every category with GT at AP 1.
  std::vector<CocoResult> perfect;
  int64_t crowd = 0;
  for (const auto& a : gt.annotations) {
    if (a.iscrowd) {
      ++crowd;
      continue;
    }
    perfect.push_back({a.image_id, a.category_id, a.bbox, 1.0});
  }
  EXPECT_LT(crowd, pair.gt_boxes / 20);  // 1%
  const auto exact = evaluate_coco_data(gt, perfect, "gt.json", "perfect");
  EXPECT_DOUBLE_EQ(exact.summary.stats[0], 1.0);
  EXPECT_DOUBLE_EQ(exact.summary.stats[1], 1.0);
  // The generated detections: 60% near a GT of the image's, so AP50 well above AP and both in
  // (0, 1); the same seed gives the same files.
  const auto scored = evaluate_coco_files(dir.file("gt.json"), dir.file("dt.json"));
  EXPECT_GT(scored.summary.stats[0], 0.01);
  EXPECT_LT(scored.summary.stats[0], scored.summary.stats[1]);
  EXPECT_LT(scored.summary.stats[1], 0.9);
  EXPECT_EQ(generate_coco_val_pair(120, 30, 5).dt_json, pair.dt_json);
  EXPECT_NE(generate_coco_val_pair(120, 30, 6).dt_json, pair.dt_json);
}

TEST(CocoSynth, TrainShapedFileHasTheAskedSizeAndCounts) {
  const focalab::testing::TempDir dir;
  const std::string path = dir.file("instances.json");
  const int64_t bytes = write_coco_train_shaped(path, 3, 400, 2500, 1);
  EXPECT_EQ(bytes, static_cast<int64_t>(std::filesystem::file_size(path)));
  EXPECT_GT(bytes, 2'700'000);  // about 3 MB
  EXPECT_LT(bytes, 3'300'000);
  const CocoDataset data = read_coco_dataset(path);
  EXPECT_EQ(data.images.size(), 400u);
  EXPECT_EQ(data.annotations.size(), 2500u);
  EXPECT_EQ(data.categories.size(), 80u);
  for (const auto& a : data.annotations) {
    ASSERT_GE(a.image_id, 1);
    ASSERT_LE(a.image_id, 400);
  }
  EXPECT_THROW(write_coco_train_shaped(dir.file("no/such/dir/x.json"), 1, 1, 1, 1), DataError);
}

}  // namespace
}  // namespace focalab::harness
