#include "harness/train/ohem_sampler.h"

#include "test_util.h"

namespace focalab::harness {
using losses::OhemOptions;
namespace {

// One image, six anchors, one class. Zero deltas: the predicted boxes are the anchors.
// Anchors 0 and 1 overlap with IoU 0.9; the others are disjoint. Logit x gives an anchor's CE:
// negative -> log(1 + e^x), positive -> log(1 + e^-x).
struct Fixture {
  torch::Tensor anchors = torch::tensor({{0.f, 0.f, 10.f, 10.f},
                                         {0.f, 0.f, 10.f, 9.f},
                                         {20.f, 0.f, 30.f, 10.f},
                                         {40.f, 0.f, 50.f, 10.f},
                                         {60.f, 0.f, 70.f, 10.f},
                                         {80.f, 0.f, 90.f, 10.f}});
  // CE: anchor0 neg x=4 -> 4.02, anchor1 neg x=3 -> 3.05, anchor2 pos x=-2 -> 2.13,
  // anchor3 neg x=1 -> 1.31, anchor4 ignored, anchor5 pos x=2 -> 0.13.
  torch::Tensor logits = torch::tensor({4.f, 3.f, -2.f, 1.f, 9.f, 2.f}).view({1, 6, 1});
  torch::Tensor labels = torch::tensor({-1L, -1L, 0L, -1L, -2L, 0L}).view({1, 6});
  torch::Tensor deltas = torch::zeros({1, 6, 4});
};

TEST(Ohem, NmsThenHighestLoss) {
  Fixture f;
  auto sel = select_ohem(f.labels, f.logits, f.deltas, f.anchors, models::BoxCoder(),
                         OhemOptions{3, 0.7, 0});
  // Anchor 1 is suppressed by anchor 0 (IoU .9 > .7); the top 3 of the rest: 0, 2, 3.
  EXPECT_TRUE(torch::equal(sel, torch::tensor({-1L, -2L, 0L, -1L, -2L, -2L}).view({1, 6})));
}

TEST(Ohem, OneToThreeTakesPositivesFirst) {
  Fixture f;
  // Batch 4, at most 1 positive: anchor 2 (the higher-loss positive), then negatives 0, 3
  // (anchor 1 suppressed); anchor 5 is a second positive and is left out.
  auto sel = select_ohem(f.labels, f.logits, f.deltas, f.anchors, models::BoxCoder(),
                         OhemOptions{4, 0.7, 0.25});
  EXPECT_TRUE(torch::equal(sel, torch::tensor({-1L, -2L, 0L, -1L, -2L, -2L}).view({1, 6})));
}

// Keeping everything (large batch, NMS that never suppresses) is plain CE on all anchors.
TEST(Ohem, KeepingEverythingIsCrossEntropy) {
  Fixture f;
  auto sel = select_ohem(f.labels, f.logits, f.deltas, f.anchors, models::BoxCoder(),
                         OhemOptions{100, 1.0, 0});
  EXPECT_TRUE(torch::equal(sel, f.labels));
}

// A batch is selected image by image (in parallel): each row equals the selection of its image
// alone, with a free and with a 1:3 batch; and every row keeps exactly batch_size anchors.
TEST(Ohem, BatchRowsEqualSingleImages) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(2);  // images on two threads
  torch::manual_seed(0);
  const int64_t n = 6, r = 600, k = 3;
  auto xy = torch::rand({r, 2}) * 200;
  auto anchors = torch::cat({xy, xy + torch::rand({r, 2}) * 40 + 8}, 1);
  auto logits = torch::randn({n, r, k}) * 2;
  auto deltas = torch::randn({n, r, 4}) * 0.2;
  auto labels = torch::randint(-2, k, {n, r}, torch::kLong);
  for (double pos_fraction : {0.0, 0.25}) {
    const OhemOptions o{64, 0.7, pos_fraction};
    auto batch = select_ohem(labels, logits, deltas, anchors, models::BoxCoder(), o);
    for (int64_t i = 0; i < n; ++i) {
      auto one = select_ohem(labels.narrow(0, i, 1), logits.narrow(0, i, 1),
                             deltas.narrow(0, i, 1), anchors, models::BoxCoder(), o);
      EXPECT_TRUE(torch::equal(batch[i], one[0])) << "image " << i << " " << pos_fraction;
      EXPECT_EQ((batch[i] != -2).sum().item<int64_t>(), 64) << "image " << i;
    }
  }
  torch::set_num_threads(threads);
}

}  // namespace
}  // namespace focalab::harness
