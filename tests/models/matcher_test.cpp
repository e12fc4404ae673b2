#include "models/anchors/matcher.h"

#include "test_util.h"

namespace focalab::models {
namespace {

// IoU table (2 GT x 5 anchors) written by hand; expected labels follow the paper's rule
// (>= .5 positive, < .4 negative, in between ignored).
//   anchor:    0     1     2     3     4
//   gt0:      .90   .45   .10   .30   .00
//   gt1:      .20   .55   .35   .42   .00
// best GT:   gt0   gt1   gt1   gt1   gt0 (no overlap)
// label:      1     1     0    -1     0
TEST(Matcher, ThresholdsGiveLabelsAndIndices) {
  auto iou = torch::tensor({{0.90f, 0.45f, 0.10f, 0.30f, 0.00f}, {0.20f, 0.55f, 0.35f, 0.42f, 0.00f}});
  Matcher m(MatcherOptions{0.5, 0.4, LowQualityMatches::kNone});
  auto r = m(iou);
  EXPECT_TRUE(torch::equal(r.labels, torch::tensor({1, 1, 0, -1, 0}, torch::kChar)));
  auto idx = r.matched_idx.slice(0, 0, 4);
  EXPECT_TRUE(torch::equal(idx, torch::tensor({0L, 1L, 1L, 1L})));
}

// gt1's best anchor is anchor 3 at IoU .42 (< .5): rescued by kAny and by kAboveBg (.42 >= .4).
// gt0's best anchor is anchor 0 at .35: rescued by kAny only (Detectron requires >= bg_iou).
TEST(Matcher, LowQualityRules) {
  auto iou = torch::tensor({{0.35f, 0.10f, 0.00f, 0.05f}, {0.05f, 0.20f, 0.30f, 0.42f}});
  auto labels = [&](LowQualityMatches rule) {
    return Matcher(MatcherOptions{0.5, 0.4, rule})(iou).labels;
  };
  EXPECT_TRUE(torch::equal(labels(LowQualityMatches::kNone), torch::tensor({0, 0, 0, -1}, torch::kChar)));
  EXPECT_TRUE(torch::equal(labels(LowQualityMatches::kAny), torch::tensor({1, 0, 0, 1}, torch::kChar)));
  EXPECT_TRUE(torch::equal(labels(LowQualityMatches::kAboveBg), torch::tensor({0, 0, 0, 1}, torch::kChar)));
}

TEST(Matcher, NoGroundTruthMeansAllNegative) {
  auto r = Matcher()(torch::zeros({0, 6}));
  EXPECT_TRUE(torch::equal(r.labels, torch::zeros({6}, torch::kChar)));
}

TEST(Matcher, RejectsInvertedThresholds) {
  EXPECT_THROW(Matcher(MatcherOptions{0.4, 0.5, LowQualityMatches::kAny}), c10::Error);
}

}  // namespace
}  // namespace focalab::models
