// COCO-format datasets for training (harness/coco_dataset, harness/dataset): category ids to
// labels, resizing, crowd regions, empty images, the bad-data policy, batching, flipping and
// evaluation through the dataset's own ground truth. Every dataset is written by the test.

#include <fmt/format.h>

#include <fstream>

#include "harness/config/config.h"
#include "harness/data/dataset.h"
#include "harness/data/image_io.h"
#include "harness/eval/coco_json.h"
#include "harness/util/errors.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

// images: 1.png 60x40 (w x h), 2.png 30x50; categories 7 "seven" and 3 "three" (out of order).
// Annotation 10: box on image 1 of category 7; 11: crowd region of category 3 on image 1.
// Image 2 has no annotations. `extra` is appended to the annotation list.
DataConfig write_dataset(const testing::TempDir& dir, const std::string& extra = "",
                         const std::string& extra_images = "") {
  write_png(dir.file("1.png"), torch::rand({3, 40, 60}));
  write_png(dir.file("2.png"), torch::rand({3, 50, 30}));
  std::ofstream(dir.file("instances.json"))
      << R"({"images": [{"id": 1, "file_name": "1.png", "width": 60, "height": 40},
                        {"id": 2, "file_name": "2.png", "width": 30, "height": 50})"
      << extra_images << R"(],
           "categories": [{"id": 7, "name": "seven"}, {"id": 3, "name": "three"}],
           "annotations": [
             {"id": 10, "image_id": 1, "category_id": 7, "bbox": [10, 5, 20, 10], "area": 200,
              "iscrowd": 0},
             {"id": 11, "image_id": 1, "category_id": 3, "bbox": [30, 10, 20, 20], "area": 400,
              "iscrowd": 1})"
      << extra << "]}";
  DataConfig c;
  c.kind = DataKind::kCoco;
  c.train_annotations = c.val_annotations = dir.file("instances.json");
  c.train_image_dir = c.val_image_dir = dir.file("");
  c.min_size = 80;
  c.max_size = 200;
  return c;
}

std::vector<float> values(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

TEST(CocoDataset, LabelsResizingCrowdAndEmptyImages) {
  testing::TempDir dir;
  DataConfig c = write_dataset(dir);
  auto train = open_dataset(c, Split::kTrain);
  // category ids in increasing order become labels: 3 -> 0, 7 -> 1
  EXPECT_EQ(train->class_names(), (std::vector<std::string>{"three", "seven"}));
  EXPECT_EQ(train->num_classes(), 2);
  ASSERT_EQ(train->size(), 1);  // image 2 has no annotations: left out of train
  const Sample s = train->get(0);
  // 60x40 -> shorter side 80: scale 2 -> 120x80
  EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{3, 80, 120}));
  EXPECT_EQ(s.original_size, (std::pair<int64_t, int64_t>{40, 60}));
  EXPECT_EQ(s.image_id, 1);
  EXPECT_EQ(values(s.boxes), (std::vector<float>{20, 10, 60, 30}));
  EXPECT_EQ(values(s.classes), (std::vector<float>{1}));
  EXPECT_EQ(values(s.crowd_boxes), (std::vector<float>{60, 20, 100, 60}));

  c.keep_empty = true;
  EXPECT_EQ(open_dataset(c, Split::kTrain)->size(), 2);
  auto val = open_dataset(c, Split::kVal);
  ASSERT_EQ(val->size(), 2);  // val keeps every image
  const Sample s2 = val->get(1);
  // 30x50 -> shorter side 80: 80x133 (floor(50 * 80/30) = 133)
  EXPECT_EQ(s2.image.sizes(), (std::vector<int64_t>{3, 133, 80}));
  EXPECT_EQ(s2.boxes.size(0), 0);
}

TEST(CocoDataset, EvaluatesAgainstItsOwnGroundTruth) {
  testing::TempDir dir;
  auto val = open_dataset(write_dataset(dir), Split::kVal);
  // The true box of "seven" (label 1) in original pixels: AP 1. "three" has only a crowd region:
  // no GT to find, AP -1 (left out of the mean).
  auto perfect = val->evaluate({{1, 1, EvalBox{10, 5, 20, 10}, 0.9}});
  EXPECT_DOUBLE_EQ(perfect.ap(), 1.0);
  EXPECT_DOUBLE_EQ(perfect.class_ap[0], -1.0);
  EXPECT_DOUBLE_EQ(perfect.class_ap[1], 1.0);
  // A false positive ranked above the true one: precision 1/2 at every recall level.
  auto with_fp = val->evaluate(
      {{1, 1, EvalBox{10, 5, 20, 10}, 0.9}, {1, 1, EvalBox{30, 10, 20, 20}, 0.95}});
  EXPECT_DOUBLE_EQ(with_fp.ap(), 0.5);
  auto shifted = val->evaluate({{1, 1, EvalBox{20, 5, 20, 10}, 0.9}});  // IoU 1/3
  EXPECT_DOUBLE_EQ(shifted.ap(), 0.0);
}

TEST(CocoDataset, BadDataIsSkippedAndCountedOrAnError) {
  testing::TempDir dir;
  const std::string bad = R"(,
      {"id": 12, "image_id": 99, "category_id": 7, "bbox": [1, 1, 5, 5]},
      {"id": 13, "image_id": 1, "category_id": 8, "bbox": [1, 1, 5, 5]},
      {"id": 14, "image_id": 1, "category_id": 7, "bbox": [1, 1, 0, 5]},
      {"id": 15, "image_id": 1, "category_id": 7, "bbox": [50, 1, 20, 5]},
      {"id": 16, "image_id": 3, "category_id": 7, "bbox": [1, 1, 5, 5]},
      {"id": 10, "image_id": 2, "category_id": 7, "bbox": [1, 1, 5, 5]},
      {"id": 17, "image_id": 2, "category_id": 3, "bbox": [-0.5, 2, 31, 5]})";
  const std::string missing = R"(, {"id": 3, "file_name": "gone.png", "width": 8, "height": 8})";
  DataConfig c = write_dataset(dir, bad, missing);
  c.on_bad = OnBad::kSkip;
  auto train = open_dataset(c, Split::kTrain);
  // kept: annotation 10 on image 1, and 17 (half a pixel outside: clipped) on image 2
  ASSERT_EQ(train->size(), 2);
  EXPECT_EQ(values(train->get(0).boxes), (std::vector<float>{20, 10, 60, 30}));
  const Sample s2 = train->get(1);
  // image 2 scaled by 80/30: the box [0, 2, 30, 7] clipped to the image
  ASSERT_EQ(s2.boxes.size(0), 1);
  EXPECT_FLOAT_EQ(s2.boxes[0][0].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(s2.boxes[0][2].item<float>(), 80.0f);

  c.on_bad = OnBad::kError;
  c.min_size = 81;  // another cache entry
  try {
    open_dataset(c, Split::kTrain);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("instances.json"), std::string::npos) << what;
    EXPECT_NE(what.find("image 3"), std::string::npos) << what;  // the first bad case: gone.png
    EXPECT_NE(what.find("gone.png is missing"), std::string::npos) << what;
    EXPECT_EQ(e.exit_code(), kExitData);
  }
  // Each case alone, with on_bad: error, names its annotation id.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(, {"id": 12, "image_id": 99, "category_id": 7, "bbox": [1, 1, 5, 5]})",
       "annotation 12: image_id 99 is not in images"},
      {R"(, {"id": 13, "image_id": 1, "category_id": 8, "bbox": [1, 1, 5, 5]})",
       "annotation 13: category_id 8 is not in categories"},
      {R"(, {"id": 14, "image_id": 1, "category_id": 7, "bbox": [1, 1, 0, 5]})",
       "annotation 14: bbox [1, 1, 0, 5] has no area"},
      {R"(, {"id": 15, "image_id": 1, "category_id": 7, "bbox": [50, 1, 20, 5]})",
       "annotation 15: bbox [50, 1, 20, 5] leaves the 60x40 image 1"},
      {R"(, {"id": 10, "image_id": 2, "category_id": 7, "bbox": [1, 1, 5, 5]})",
       "annotation id 10 repeated"}};
  for (size_t i = 0; i < cases.size(); ++i) {
    testing::TempDir d;
    DataConfig ci = write_dataset(d, cases[i].first);
    ci.on_bad = OnBad::kError;
    try {
      open_dataset(ci, Split::kTrain);
      ADD_FAILURE() << "no error for case " << i;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(cases[i].second), std::string::npos) << e.what();
    }
  }
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A truncated image is found when the dataset opens (every image's header and completeness are
// read then), so with data.on_bad: error nothing trains: before this, a PNG cut in half passed
// the header probe and was decoded with its missing half gray.
TEST(CocoDataset, TruncatedImageIsFoundBeforeTraining) {
  testing::TempDir dir;
  DataConfig c = write_dataset(dir);
  c.keep_empty = true;
  const std::string bytes = file_bytes(dir.file("2.png"));
  std::ofstream(dir.file("2.png"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  c.on_bad = OnBad::kError;
  try {
    open_dataset(c, Split::kTrain);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("image 2: " + dir.file("2.png") + ": truncated or corrupt PNG"),
              std::string::npos) << what;
    EXPECT_NE(what.find("instances.json"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  c.on_bad = OnBad::kSkip;
  auto train = open_dataset(c, Split::kTrain);
  ASSERT_EQ(train->size(), 1);  // image 2 left out
  EXPECT_EQ(train->get(0).image_id, 1);
}

TEST(CocoDataset, CorruptImageIsSkippedInTrainingOrNamedAsError) {
  testing::TempDir dir;
  DataConfig c = write_dataset(dir);
  c.keep_empty = true;
  // 2.png's image data becomes garbage: its chunks are whole (it passes the probe), its zlib
  // stream does not decode. stb writes one IDAT chunk at byte 33; its data starts at 41 with the
  // 2-byte zlib header.
  std::string bytes = file_bytes(dir.file("2.png"));
  ASSERT_EQ(bytes.substr(37, 4), "IDAT");
  const size_t idat = static_cast<size_t>(static_cast<unsigned char>(bytes[35])) << 8 |
                      static_cast<unsigned char>(bytes[36]);
  ASSERT_EQ(bytes.substr(0, 33).size() + 12 + idat + 12, bytes.size());
  for (size_t i = 43; i < 41 + idat; ++i) bytes[i] = '\xff';
  std::ofstream(dir.file("2.png"), std::ios::binary) << bytes;
  EXPECT_EQ(probe_image(dir.file("2.png")), (std::pair<int64_t, int64_t>{50, 30}));
  EXPECT_THROW(read_image(dir.file("2.png")), DataError);
  auto train = open_dataset(c, Split::kTrain);
  ASSERT_EQ(train->size(), 2);
  EXPECT_EQ(train->get(1).image_id, 1);  // replaced by the next image
  c.on_bad = OnBad::kError;
  auto strict = open_dataset(c, Split::kTrain);
  try {
    strict->get(1);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("2.png"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("image 2"), std::string::npos) << e.what();
  }
}

// The reader skips segmentations without parsing them (polygons, RLE objects with brackets inside
// strings); everything around them reads as before, and errors still name their element.
TEST(CocoJson, SegmentationsAreSkippedExactly) {
  testing::TempDir dir;
  const std::string path = dir.write("seg.json", R"({"images": [{"id": 1, "file_name": "a.png"}],
 "categories": [{"id": 2, "name": "segmentation"}],
 "annotations": [
  {"segmentation": [[1.5, 2, 3,
     4, 5, 6]], "id": 4, "image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4]},
  {"id": 5, "segmentation" : {"counts": "x]]}{\"[", "size": [3, 4]}, "image_id": 1,
   "category_id": 2, "bbox": [5, 6, 7, 8], "iscrowd": 1}]})");
  const CocoDataset ds = read_coco_dataset(path);
  ASSERT_EQ(ds.annotations.size(), 2u);
  EXPECT_EQ(ds.categories[0].name, "segmentation");
  EXPECT_EQ(ds.annotations[0].id, 4);
  EXPECT_EQ(ds.annotations[0].bbox, (std::array<double, 4>{1, 2, 3, 4}));
  EXPECT_EQ(ds.annotations[1].id, 5);
  EXPECT_TRUE(ds.annotations[1].iscrowd);
  EXPECT_EQ(ds.annotations[1].bbox, (std::array<double, 4>{5, 6, 7, 8}));
  const std::string bad = dir.write("bad.json", R"({"images": [], "categories": [],
 "annotations": [
  {"segmentation": [[1, 2,
    3, 4]], "id": 4, "bbox": [1, 2, 3, ]}]})");
  try {
    read_coco_dataset(bad);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("annotations[0].bbox[3]: expected a number"),
              std::string::npos) << e.what();
  }
}

// JSON nests at most 1024 levels (simdjson's default depth): the On-Demand parser skips fields
// focalab does not read without looking at their depth, so 100,000 nested lists in an unknown
// field used to be accepted. Brackets inside strings do not count.
TEST(CocoJson, NestingIsBounded) {
  testing::TempDir dir;
  const std::string head = R"({"images": [{"id": 1, "file_name": "a.png", "x": )";
  const std::string tail = R"(}], "categories": [{"id": 2, "name": "[[[{{{"}], "annotations": []})";
  auto nested = [](size_t n) { return std::string(n, '[') + std::string(n, ']'); };
  // 1020 levels inside the 3 of the file: read
  const CocoDataset ok = read_coco_dataset(dir.write("ok.json", head + nested(1021) + tail));
  ASSERT_EQ(ok.images.size(), 1u);
  EXPECT_EQ(ok.categories[0].name, "[[[{{{");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"field.json", head + "\n" + nested(100000) + tail},
      {"lists.json", "\n" + nested(100000)},
      {"objects.json", "\n" + [] {
         std::string s;
         for (int k = 0; k < 100000; ++k) s += "{\"a\": ";
         return s + "1" + std::string(100000, '}');
       }()},
      {"open.json", "\n" + std::string(100000, '[')},
      {"limit.json", head + "\n" + nested(1022) + tail},
  };
  for (const auto& [name, content] : cases) {
    SCOPED_TRACE(name);
    const std::string path = dir.write(name, content);
    for (auto read : {+[](const std::string& p) { read_coco_dataset(p); },
                      +[](const std::string& p) { read_coco_results(p); }}) {
      try {
        read(path);
        ADD_FAILURE() << "expected a DataError";
      } catch (const DataError& e) {
        EXPECT_NE(std::string(e.what()).find(path + ": line 2: nested deeper than 1024 levels"),
                  std::string::npos) << e.what();
      }
    }
  }
}

TEST(Dataset, FlipAndCollatePadWithTheMean) {
  Sample a;
  a.image = torch::rand({3, 100, 150});
  a.boxes = torch::tensor({{10.f, 20.f, 50.f, 40.f}});
  a.classes = torch::tensor({1L});
  a.crowd_boxes = torch::tensor({{0.f, 0.f, 30.f, 30.f}});
  const auto original = a.image.clone();
  flip_horizontal(a);
  EXPECT_EQ(values(a.boxes), (std::vector<float>{100, 20, 140, 40}));
  EXPECT_EQ(values(a.crowd_boxes), (std::vector<float>{120, 0, 150, 30}));
  EXPECT_TRUE(torch::equal(a.image.select(2, 0), original.select(2, 149)));

  Sample b = a;
  b.image = torch::rand({3, 130, 60});
  Batch batch = collate({a, b});
  EXPECT_EQ(batch.images.sizes(), (std::vector<int64_t>{2, 3, 256, 256}));  // 130 x 150 -> 128s
  EXPECT_TRUE(torch::equal(batch.images[0].narrow(1, 0, 100).narrow(2, 0, 150), a.image));
  EXPECT_FLOAT_EQ(batch.images[0][0][200][200].item<float>(), 0.485f);
  EXPECT_FLOAT_EQ(batch.images[1][2][10][100].item<float>(), 0.406f);
  EXPECT_EQ(batch.image_sizes[1], (std::pair<int64_t, int64_t>{130, 60}));
}

TEST(Config, CocoKeysAreCheckedAndCanonical) {
  testing::TempDir dir;
  TrialConfig c;
  c.data.kind = DataKind::kCoco;
  try {
    finalize_config(c, "x.yaml");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("x.yaml: data.train.annotations: data.kind coco needs"),
              std::string::npos) << e.what();
  }
  c.data = write_dataset(dir);
  c.data.val_image_dir = dir.file("nope");
  try {
    finalize_config(c, "x.yaml");
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("data.val.images: no such folder"), std::string::npos)
        << e.what();
  }
  c.data = write_dataset(dir);
  c.data.image_size = 256;  // a synthetic key: reset for coco, so it cannot change the trial key
  c.data.workers = 7;       // not part of the key either
  TrialConfig d = c;
  d.data.image_size = 128;
  d.data.workers = 2;
  finalize_config(c, "x.yaml");
  finalize_config(d, "x.yaml");
  EXPECT_EQ(config_to_json(c), config_to_json(d));
}

}  // namespace
}  // namespace focalab::harness
