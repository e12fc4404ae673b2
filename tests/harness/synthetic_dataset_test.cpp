#include "harness/data/synthetic_dataset.h"

#include <thread>
#include <vector>

#include "test_util.h"

namespace focalab::harness {
namespace {

DataConfig small_config() {
  DataConfig c;
  c.image_size = 128;
  c.num_classes = 6;
  c.train_images = 100;
  c.val_images = 10;
  c.min_objects = 2;
  c.max_objects = 5;
  c.min_object_size = 12;
  c.max_object_size = 64;
  return c;
}

TEST(SyntheticDataset, DeterministicPerSeedSplitAndIndex) {
  SyntheticDataset a(small_config(), Split::kTrain), b(small_config(), Split::kTrain);
  auto s1 = a.get(7), s2 = b.get(7);
  EXPECT_TRUE(torch::equal(s1.image, s2.image));
  EXPECT_TRUE(torch::equal(s1.boxes, s2.boxes));
  EXPECT_FALSE(torch::equal(s1.image, a.get(8).image));
  SyntheticDataset val(small_config(), Split::kVal);
  EXPECT_FALSE(torch::equal(s1.image, val.get(7).image));
  auto other = small_config();
  other.seed = 1;
  EXPECT_FALSE(torch::equal(s1.image, SyntheticDataset(other, Split::kTrain).get(7).image));
}

void expect_same(const Sample& a, const Sample& b) {
  EXPECT_TRUE(torch::equal(a.image, b.image));
  EXPECT_TRUE(torch::equal(a.boxes, b.boxes));
  EXPECT_TRUE(torch::equal(a.classes, b.classes));
  EXPECT_EQ(a.image_id, b.image_id);
}

TEST(SyntheticDataset, KeptImagesAreTheGeneratedOnesWithinTheBudget) {
  auto none = small_config();
  none.cache_mb = 0;
  const SyntheticDataset fresh(none, Split::kTrain), kept(small_config(), Split::kTrain);
  EXPECT_EQ(small_config().cache_mb, 1024);  // the default: 100 images of 128 px fit
  for (int64_t i : {3, 3, 5, 3}) expect_same(kept.get(i), fresh.get(i));
  EXPECT_EQ(kept.kept_images(), 2);
  EXPECT_EQ(fresh.kept_images(), 0);
  // what get() returns is a copy: changing it leaves the kept image as generated
  auto s = kept.get(5);
  s.image.fill_(0);
  s.boxes.fill_(0);
  s.classes.fill_(0);
  expect_same(kept.get(5), fresh.get(5));
  // a budget of 1 MiB holds 5 images of 3 x 128 x 128 floats (196,608 bytes each); the rest are
  // generated every time, and still the same
  auto small = small_config();
  small.cache_mb = 1;
  const SyntheticDataset bounded(small, Split::kTrain);
  for (int64_t i = 0; i < 10; ++i) bounded.get(i);
  EXPECT_EQ(bounded.kept_images(), 5);
  for (int64_t i = 0; i < 10; ++i) expect_same(bounded.get(i), fresh.get(i));
  // loader threads read it at once (data.workers)
  const SyntheticDataset shared(small_config(), Split::kTrain);
  std::vector<std::thread> threads;
  std::vector<std::vector<Sample>> got(4);
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int64_t i = 0; i < 20; ++i) got[t].push_back(shared.get((i * 7 + t) % 20));
    });
  }
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < got.size(); ++t) {
    for (int64_t i = 0; i < 20; ++i) {
      const int64_t index = (i * 7 + static_cast<int64_t>(t)) % 20;
      expect_same(got[t][static_cast<size_t>(i)], fresh.get(index));
    }
  }
  EXPECT_EQ(shared.kept_images(), 20);
}

TEST(SyntheticDataset, BoxesClassesAndPixelsAreValid) {
  SyntheticDataset ds(small_config(), Split::kTrain);
  std::vector<int64_t> class_counts(6, 0);
  int64_t objects = 0;
  double min_side = 1e9, max_side = 0;
  for (int64_t i = 0; i < ds.size(); ++i) {
    auto s = ds.get(i);
    ASSERT_EQ(s.image.sizes(), (std::vector<int64_t>{3, 128, 128}));
    EXPECT_GE(s.image.min().item<float>(), 0.f);
    EXPECT_LE(s.image.max().item<float>(), 1.f);
    ASSERT_EQ(s.boxes.size(0), s.classes.size(0));
    EXPECT_GE(s.boxes.size(0), 1);
    EXPECT_LE(s.boxes.size(0), 5);
    for (int64_t g = 0; g < s.boxes.size(0); ++g) {
      auto b = s.boxes[g];
      EXPECT_GE(b[0].item<float>(), 0.f);
      EXPECT_GE(b[1].item<float>(), 0.f);
      EXPECT_LE(b[2].item<float>(), 128.f);
      EXPECT_LE(b[3].item<float>(), 128.f);
      const double side = std::sqrt(((b[2] - b[0]) * (b[3] - b[1])).item<double>());
      min_side = std::min(min_side, side);
      max_side = std::max(max_side, side);
      ++class_counts[static_cast<size_t>(s.classes[g].item<int64_t>())];
      ++objects;
    }
  }
  EXPECT_GE(objects, 200);
  for (int64_t c : class_counts) EXPECT_GT(c, objects / 12);  // every class well represented
  EXPECT_GE(min_side, 12 - 1e-3);
  EXPECT_LE(max_side, 64 + 1e-3);
  EXPECT_LT(min_side, 20);   // sizes span several FPN levels
  EXPECT_GT(max_side, 45);
}

// Objects are drawn: the mean color inside a box differs from the image's border region.
TEST(SyntheticDataset, ObjectsArePainted) {
  auto c = small_config();
  c.noise = 0;
  c.clutter = 0;
  SyntheticDataset ds(c, Split::kVal);
  auto s = ds.get(0);
  auto b = s.boxes[0].to(torch::kLong);
  auto crop = s.image.index({torch::indexing::Slice(),
                             torch::indexing::Slice(b[1].item<int64_t>(), b[3].item<int64_t>()),
                             torch::indexing::Slice(b[0].item<int64_t>(), b[2].item<int64_t>())});
  EXPECT_GT(crop.std().item<double>(), 0.01);
}

// data.class_imbalance 1.5 over 6 classes: weights 1 : 0.35 : ... : 0.068, so class 0 is drawn
// ~14.7x as often as class 5; with 0 all are about equal.
TEST(SyntheticDataset, ClassImbalanceSkewsClassFrequencies) {
  auto c = small_config();
  c.train_images = 300;
  c.class_imbalance = 1.5;
  SyntheticDataset ds(c, Split::kTrain);
  std::vector<int64_t> counts(6, 0);
  for (int64_t i = 0; i < ds.size(); ++i) {
    auto classes = ds.get(i).classes;
    for (int64_t j = 0; j < classes.size(0); ++j) ++counts[classes[j].item<int64_t>()];
  }
  EXPECT_GT(counts[0], 8 * counts[5]) << counts[0] << " vs " << counts[5];
  EXPECT_GT(counts[0], counts[1]);
  EXPECT_GT(counts[1], counts[3]);
}

// Distractors change pixels but not the objects (they are drawn after them); the default (0)
// leaves the dataset as it was.
TEST(SyntheticDataset, DistractorsAddShapesButNoBoxes) {
  auto c = small_config();
  c.num_classes = 3;
  auto d = c;
  d.distractors = 4;
  SyntheticDataset plain(c, Split::kTrain), with(d, Split::kTrain);
  for (int64_t i = 0; i < 5; ++i) {
    auto a = plain.get(i), b = with.get(i);
    EXPECT_TRUE(torch::equal(a.boxes, b.boxes));
    EXPECT_TRUE(torch::equal(a.classes, b.classes));
    EXPECT_FALSE(torch::equal(a.image, b.image));
  }
}

// data.max_overlap 0: objects never overlap.
TEST(SyntheticDataset, MaxOverlapBoundsObjectIou) {
  auto c = small_config();
  c.max_overlap = 0;
  c.min_objects = c.max_objects = 5;
  SyntheticDataset ds(c, Split::kTrain);
  for (int64_t i = 0; i < 30; ++i) {
    auto b = ds.get(i).boxes;
    for (int64_t p = 0; p < b.size(0); ++p) {
      for (int64_t q = p + 1; q < b.size(0); ++q) {
        const float w = std::min(b[p][2].item<float>(), b[q][2].item<float>()) -
                        std::max(b[p][0].item<float>(), b[q][0].item<float>());
        const float h = std::min(b[p][3].item<float>(), b[q][3].item<float>()) -
                        std::max(b[p][1].item<float>(), b[q][1].item<float>());
        EXPECT_FALSE(w > 1e-3f && h > 1e-3f) << "image " << i << " boxes " << p << ", " << q;
      }
    }
  }
}

}  // namespace
}  // namespace focalab::harness
