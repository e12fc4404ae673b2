#include "losses/loss_breakdown.h"

#include "test_util.h"

namespace focalab::losses {
namespace {

// 2 anchors x 2 classes. Probabilities from logits: sigmoid(0) = .5, sigmoid(-5) = .0067,
// sigmoid(-2) = .119, sigmoid(3) = .953. Targets: element (0,0) positive, the rest negative.
//   (0,0) pos  loss 1.0  -> positive, class 0
//   (0,1) neg  p=.0067   -> easy, class 1, loss 0.1
//   (1,0) neg  p=.119    -> hard (>= .05), class 0, loss 0.5
//   (1,1) neg  p=.953    -> hard, class 1, loss 2.0
TEST(LossBreakdown, SplitsByCategoryAndClass) {
  LossBreakdown b(2, {0.05});
  auto logits = torch::tensor({{0.f, -5.f}, {-2.f, 3.f}});
  auto targets = torch::tensor({{1.f, 0.f}, {0.f, 0.f}});
  auto loss = torch::tensor({{1.0f, 0.1f}, {0.5f, 2.0f}});
  b.add(loss, logits, targets, /*ignored_anchors=*/3, /*normalizer=*/1.0);
  b.add(loss, logits, targets, 1, 2.0);
  auto s = b.take();
  EXPECT_EQ(s.iterations, 2);
  EXPECT_EQ(s.ignored_anchors, 4);
  EXPECT_DOUBLE_EQ(s.normalizer_sum, 3.0);
  EXPECT_DOUBLE_EQ(s.count_at(LossCategory::kPositive, 0), 2);
  EXPECT_DOUBLE_EQ(s.count_at(LossCategory::kPositive, 1), 0);
  EXPECT_NEAR(s.loss_at(LossCategory::kPositive, 0), 2.0, 1e-6);
  EXPECT_DOUBLE_EQ(s.total_count(LossCategory::kHardNegative), 4);
  EXPECT_NEAR(s.loss_at(LossCategory::kHardNegative, 0), 1.0, 1e-6);
  EXPECT_NEAR(s.loss_at(LossCategory::kHardNegative, 1), 4.0, 1e-6);
  EXPECT_NEAR(s.total_loss(LossCategory::kEasyNegative), 0.2, 1e-6);
  EXPECT_DOUBLE_EQ(s.count_at(LossCategory::kEasyNegative, 1), 2);
  // take() resets.
  auto empty = b.take();
  EXPECT_EQ(empty.iterations, 0);
  EXPECT_DOUBLE_EQ(empty.total_count(LossCategory::kPositive), 0);
}

// Raising the hard threshold above .119 turns element (1,0) into an easy negative.
TEST(LossBreakdown, ThresholdMovesHardToEasy) {
  LossBreakdown b(2, {0.2});
  b.add(torch::tensor({{1.0f, 0.1f}, {0.5f, 2.0f}}), torch::tensor({{0.f, -5.f}, {-2.f, 3.f}}),
        torch::tensor({{1.f, 0.f}, {0.f, 0.f}}), 0, 1.0);
  auto s = b.take();
  EXPECT_DOUBLE_EQ(s.total_count(LossCategory::kHardNegative), 1);
  EXPECT_NEAR(s.total_loss(LossCategory::kEasyNegative), 0.6, 1e-6);
}

}  // namespace
}  // namespace focalab::losses

#include "losses/loss_histogram.h"

namespace focalab::losses {
namespace {

// Four anchors x 1 class, q = probability of the wrong answer:
//   anchor 0 positive, logit 0     -> q = .5     -> bin [.5, .6)    (10), group positive
//   anchor 1 negative, logit -5    -> q = .0067  -> bin [.001, .01) (2),  IoU .05: background
//   anchor 2 negative, logit -2    -> q = .119   -> bin [.1, .2)    (6),  IoU .3: near object
//   anchor 3 negative, logit 3     -> q = .953   -> bin [.9, 1]     (14), IoU 0: background
TEST(LossHistogram, BinsByWrongProbabilityAndIouBand) {
  LossHistogram h(0.1);
  auto logits = torch::tensor({{0.f}, {-5.f}, {-2.f}, {3.f}});
  auto targets = torch::tensor({{1.f}, {0.f}, {0.f}, {0.f}});
  auto loss = torch::tensor({{0.7f}, {0.01f}, {0.2f}, {3.0f}});
  auto iou = torch::tensor({0.6f, 0.05f, 0.3f, 0.0f});
  h.add(loss, logits, targets, iou);
  h.add(loss, logits, targets, iou);
  auto s = h.take();
  EXPECT_EQ(s.iterations, 2);
  EXPECT_DOUBLE_EQ(s.count_at(HistogramGroup::kPositive, 10), 2);
  EXPECT_NEAR(s.loss_at(HistogramGroup::kPositive, 10), 1.4, 1e-6);
  EXPECT_DOUBLE_EQ(s.count_at(HistogramGroup::kBackground, 2), 2);
  EXPECT_DOUBLE_EQ(s.count_at(HistogramGroup::kNearObject, 6), 2);
  EXPECT_NEAR(s.loss_at(HistogramGroup::kNearObject, 6), 0.4, 1e-6);
  EXPECT_DOUBLE_EQ(s.count_at(HistogramGroup::kBackground, 14), 2);
  double total = 0;
  for (double c : s.count) total += c;
  EXPECT_DOUBLE_EQ(total, 8);
  EXPECT_EQ(h.take().iterations, 0);
}

}  // namespace
}  // namespace focalab::losses
