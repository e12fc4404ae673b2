// torch.save reader / writer. Fixtures tests/data/tiny_{zip,legacy}.pth were written by Python
// torch 1.13 (tests/data/make_fixtures.py); the expected values below are the ones that script
// puts in.

#include <fstream>

#include "harness/errors.h"
#include "harness/torch_file.h"
#include "harness/weights.h"
#include "test_util.h"

namespace focalab {
namespace {

std::map<std::string, torch::Tensor> as_map(const StateDict& state) {
  std::map<std::string, torch::Tensor> m;
  for (const auto& [k, v] : state) m.emplace(k, v);
  return m;
}

void expect_fixture(const std::string& path) {
  SCOPED_TRACE(path);
  const StateDict state = read_state_dict(path);
  // File order is kept; the int entry "epoch" is skipped; nested dicts are flattened.
  std::vector<std::string> names;
  for (const auto& [k, v] : state) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "counts", "half", "mask", "scalar",
                                             "empty", "base", "view", "nested.x"}));
  auto m = as_map(state);
  EXPECT_TRUE(torch::equal(m["conv.weight"],
                           torch::tensor({{1.5f, -2.0f, 3.25f}, {0.0f, 1e-8f, -7.0f}})));
  EXPECT_EQ(m["counts"].scalar_type(), torch::kLong);
  EXPECT_EQ(m["counts"][1][2].item<int64_t>(), 5000000000000);
  EXPECT_EQ(m["half"].scalar_type(), torch::kHalf);
  EXPECT_EQ(m["half"][1].item<float>(), -1.25f);
  EXPECT_TRUE(torch::equal(m["mask"], torch::tensor({true, false, true})));
  EXPECT_EQ(m["scalar"].dim(), 0);
  EXPECT_EQ(m["scalar"].item<float>(), 42.0f);
  EXPECT_EQ(m["empty"].sizes(), (std::vector<int64_t>{0, 4}));
  // base = arange(10) * 0.5 - 1; view = base[1::3] shares its storage
  EXPECT_TRUE(torch::equal(m["view"], torch::tensor({-0.5f, 1.0f, 2.5f})));
  EXPECT_EQ(m["view"].stride(0), 3);
  EXPECT_EQ(m["base"][9].item<float>(), 3.5f);
  EXPECT_EQ(m["nested.x"].item<float>(), 9.0f);
}

TEST(TorchFile, ReadsZipFormatWrittenByTorchSave) {
  expect_fixture(std::string(FOCALAB_SOURCE_DIR) + "/tests/data/tiny_zip.pth");
}

TEST(TorchFile, ReadsLegacyFormatWrittenByTorchSave) {
  expect_fixture(std::string(FOCALAB_SOURCE_DIR) + "/tests/data/tiny_legacy.pth");
}

TEST(TorchFile, WriteThenReadRoundTrips) {
  testing::TempDir dir;
  StateDict state = {{"a.weight", torch::randn({3, 4, 2})},
                     {"a.t", torch::randn({4, 3}).t()},  // non-contiguous: saved contiguous
                     {"n", torch::tensor({1, 2, 3}, torch::kLong)},
                     {"b", torch::tensor({true, false})},
                     {"s", torch::tensor(2.5)},
                     {"e", torch::zeros({0})}};
  write_state_dict(dir.file("x.pth"), state);
  const StateDict back = read_state_dict(dir.file("x.pth"));
  ASSERT_EQ(back.size(), state.size());
  for (size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(back[i].first, state[i].first);
    EXPECT_EQ(back[i].second.scalar_type(), state[i].second.scalar_type()) << state[i].first;
    EXPECT_TRUE(torch::equal(back[i].second, state[i].second)) << state[i].first;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.pth.tmp")));
}

// Every malformed input is a DataError that names the file; none crashes.
TEST(TorchFile, BadFilesAreDataErrors) {
  testing::TempDir dir;
  const std::string src = std::string(FOCALAB_SOURCE_DIR) + "/tests/data/";
  auto bytes_of = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string zip = bytes_of(src + "tiny_zip.pth");
  const std::string legacy = bytes_of(src + "tiny_legacy.pth");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.pth", ""},
      {"text.pth", "hello, not a checkpoint\n"},
      {"zip_truncated.pth", zip.substr(0, zip.size() / 2)},
      {"legacy_truncated.pth", legacy.substr(0, legacy.size() - 40)},
      {"legacy_head.pth", legacy.substr(0, 30)},
      {"pickle_only.pth", std::string("\x80\x02K\x05.", 5)},  // pickle of the int 5
      {"bad_opcode.pth", std::string("\x80\x02\xff", 3)},
      // a dict that holds itself: d = {}; d["a"] = d
      {"cyclic.pth", std::string("\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s.", 15)},
      // 1000 nested lists
      {"deep.pth", "\x80\x02" + std::string(1000, ']') + std::string(999, 'a') + "."},
  };
  for (const auto& [name, content] : cases) {
    SCOPED_TRACE(name);
    const std::string path = dir.write(name, content);
    try {
      read_state_dict(path);
      ADD_FAILURE() << "no error for " << name;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(read_state_dict(dir.file("missing.pth")), DataError);
}

TEST(Weights, TorchvisionNamesMapToFocalab) {
  EXPECT_EQ(torchvision_to_focalab_name("backbone.body.layer1.0.bn1.running_var", false),
            "backbone.layer1.0.bn1.running_var");
  EXPECT_EQ(torchvision_to_focalab_name("module.backbone.body.conv1.weight", false),
            "backbone.conv1.weight");
  EXPECT_EQ(torchvision_to_focalab_name("backbone.fpn.inner_blocks.2.0.weight", false),
            "fpn.inner_blocks.2.weight");
  EXPECT_EQ(torchvision_to_focalab_name("backbone.fpn.layer_blocks.1.bias", false),
            "fpn.layer_blocks.1.bias");  // torchvision < 0.13
  EXPECT_EQ(torchvision_to_focalab_name("backbone.fpn.extra_blocks.p6.weight", false),
            "fpn.p6.weight");
  // torchvision >= 0.13 heads: conv.j.0 is the j-th conv; focalab's Sequential interleaves ReLU
  EXPECT_EQ(torchvision_to_focalab_name("head.classification_head.conv.3.0.weight", false),
            "head.classification_head.conv.6.weight");
  // v2 heads: conv.j.1 is GroupNorm, focalab's (conv, GN, ReLU) triples
  EXPECT_EQ(torchvision_to_focalab_name("head.regression_head.conv.2.1.bias", true),
            "head.regression_head.conv.7.bias");
  EXPECT_EQ(torchvision_to_focalab_name("head.classification_head.conv.4.weight", false),
            "head.classification_head.conv.4.weight");  // torchvision < 0.13
  EXPECT_EQ(torchvision_to_focalab_name("head.regression_head.bbox_reg.bias", false),
            "head.regression_head.bbox_reg.bias");
  EXPECT_EQ(torchvision_to_focalab_name("roi_heads.box_predictor.cls_score.weight", false), "");
}

// A focalab checkpoint loads back into the same model; one for a different class count is
// refused with the mis-shaped keys named.
TEST(Weights, FocalabCheckpointRoundTripAndShapeErrors) {
  testing::TempDir dir;
  models::RetinaNetOptions o;
  o.backbone.preset = "tiny";
  o.fpn.out_channels = 32;
  o.head.num_classes = 3;
  o.head.num_convs = 1;
  torch::manual_seed(1);
  models::RetinaNet a(o);
  write_model_weights(a, dir.file("a.pth"));
  torch::manual_seed(2);
  models::RetinaNet b(o);
  EXPECT_EQ(load_model_weights(b, dir.file("a.pth")), "focalab");
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  const auto head = infer_head_shape(read_state_dict(dir.file("a.pth")));
  EXPECT_EQ(head.num_classes, 3);
  EXPECT_EQ(head.num_convs, 1);

  o.head.num_classes = 5;
  models::RetinaNet c(o);
  try {
    load_model_weights(c, dir.file("a.pth"));
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("head.classification_head.cls_logits.weight"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace focalab
