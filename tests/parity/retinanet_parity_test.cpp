// Parity of focalab's RetinaNet with torchvision 0.14's retinanet_resnet50_fpn (Debian's
// python3-torchvision through /usr/bin/python3): tests/parity/retinanet_reference.py builds a
// seeded model with perturbed norms and heads, saves its state_dict (zip and legacy formats), a
// non-square image and torchvision's outputs; focalab loads the same files without conversion and
// must reproduce the transform, backbone features, FPN levels, head outputs (to 1e-4 of each
// output's scale), anchors (exactly) and detections (same labels, boxes within 0.01 px, scores
// within 1e-4). The backbone alone is checked against torchvision.models.resnet50.

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "harness/analysis/predict.h"
#include "harness/data/image_io.h"
#include "harness/interop/torch_file.h"
#include "harness/interop/weights.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

bool python_has_torchvision() {
  const std::string cmd = std::string(kPython) + " -c 'import torchvision' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::map<std::string, torch::Tensor> as_map(const StateDict& state) {
  std::map<std::string, torch::Tensor> m;
  for (const auto& [k, v] : state) m.emplace(k, v);
  return m;
}

// max |actual - expected| relative to max |expected|; printed, so that the margin is visible.
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected,
                      const std::string& what) {
  EXPECT_EQ(actual.sizes(), expected.sizes()) << what;
  if (actual.sizes() != expected.sizes()) return 1e9;
  const double scale = expected.abs().max().item<double>();
  const double err =
      (actual.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>() /
      std::max(scale, 1e-12);
  std::printf("  %-24s max relative error %.2e\n", what.c_str(), err);
  return err;
}

// The reference files live in the build tree (FOCALAB_PARITY_DIR/v1, /v2). ctest makes them once
// per run (fixture parity.retinanet_reference); a test binary run by hand makes them if missing.
class RetinaNetParity : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (!python_has_torchvision()) return;
    const std::string dir = FOCALAB_PARITY_DIR;
    if (std::filesystem::exists(dir + "/v1/expected_dets.json") &&
        std::filesystem::exists(dir + "/v2/expected_dets.json")) {
      ok_ = true;
      return;
    }
    const std::string cmd = std::string(kPython) + " " + FOCALAB_SOURCE_DIR +
                            "/tests/parity/retinanet_reference.py --fixture " + dir;
    ok_ = std::system(cmd.c_str()) == 0;
  }
  void SetUp() override {
    if (!python_has_torchvision()) {
      GTEST_SKIP() << "SKIPPED: " << kPython << " cannot import torchvision "
                   << "(apt-get install python3-torchvision); parity not checked";
    }
    ASSERT_TRUE(ok_) << "tests/parity/retinanet_reference.py failed";
    torch::set_num_threads(2);
  }
  // "v1" (retinanet_resnet50_fpn) or "v2" (retinanet_resnet50_fpn_v2)
  std::string version() const { return GetParam(); }
  std::string arch() const {
    return version() == "v2" ? "retinanet_resnet50_fpn_v2" : "retinanet_resnet50_fpn";
  }
  std::string file(const std::string& name) const {
    return std::string(FOCALAB_PARITY_DIR) + "/" + version() + "/" + name;
  }
  models::RetinaNet torchvision_model(const std::string& weights) const {
    ArchPreset preset = arch_preset(arch(), 91);
    models::RetinaNet model(preset.model);
    EXPECT_EQ(load_model_weights(model, weights), "torchvision-retinanet");
    model->eval();
    return model;
  }
  models::TransformOptions transform() const {
    auto t = arch_preset(arch(), 91).transform;
    t.min_size = 320;  // as retinanet_reference.py
    t.max_size = 480;
    return t;
  }

  static bool ok_;
};
bool RetinaNetParity::ok_ = false;

using RetinaNetV1Parity = RetinaNetParity;

TEST_P(RetinaNetParity, ZipAndLegacyCheckpointsHoldTheSameTensors) {
  const auto zip = read_state_dict(file("retinanet.pth"));
  const auto legacy = as_map(read_state_dict(file("retinanet_legacy.pth")));
  ASSERT_EQ(zip.size(), legacy.size());
  EXPECT_GT(zip.size(), 300u);
  for (const auto& [name, t] : zip) {
    ASSERT_TRUE(legacy.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, legacy.at(name))) << name;
  }
  const auto head = infer_head_shape(zip);
  EXPECT_EQ(head.num_classes, 91);
  EXPECT_EQ(head.num_anchors, 9);
  EXPECT_EQ(head.num_convs, 4);
  EXPECT_EQ(head.group_norm, version() == "v2");
}

TEST_P(RetinaNetParity, FeaturesHeadsAndAnchorsMatchTorchvision) {
  auto expected = as_map(read_state_dict(file("expected.pth")));
  auto model = torchvision_model(file("retinanet.pth"));
  torch::NoGradGuard no_grad;

  auto image = read_image(file("image.png"));
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{3, 237, 311}));
  auto batch = models::transform_images({image}, transform());
  // float32 scale 320 / 237 floors 237 * 1.3502 to 319, as torchvision does
  EXPECT_EQ(batch.image_sizes[0], (models::ImageSize{expected["image_size"][0].item<int64_t>(),
                                                     expected["image_size"][1].item<int64_t>()}));
  auto x = model->normalize(batch.images);
  EXPECT_LT(relative_error(x[0], expected["image"], "image"), 1e-5);

  auto c = model->backbone()->forward(x);
  EXPECT_LT(relative_error(c.c3[0], expected["c3"], "c3"), 1e-4);
  EXPECT_LT(relative_error(c.c4[0], expected["c4"], "c4"), 1e-4);
  EXPECT_LT(relative_error(c.c5[0], expected["c5"], "c5"), 1e-4);
  auto p = model->fpn()->forward(c);
  ASSERT_EQ(p.size(), 5u);
  for (size_t l = 0; l < 5; ++l) {
    EXPECT_LT(relative_error(p[l][0], expected["p" + std::to_string(l + 3)], "P" + std::to_string(l + 3)), 1e-4) << "P" << l + 3;
  }
  auto out = model->forward(batch.images);
  // per level, relative to that level's output scale
  int64_t start = 0;
  for (size_t l = 0; l < out.anchors_per_level.size(); ++l) {
    const int64_t n = out.anchors_per_level[l];
    EXPECT_LT(relative_error(out.cls_logits[0].narrow(0, start, n),
                             expected["cls_logits"].narrow(0, start, n),
                             "cls_logits P" + std::to_string(l + 3)), 1e-4) << "level " << l;
    EXPECT_LT(relative_error(out.box_deltas[0].narrow(0, start, n),
                             expected["bbox_regression"].narrow(0, start, n),
                             "bbox_regression P" + std::to_string(l + 3)), 1e-4)
        << "level " << l;
    start += n;
  }
  EXPECT_TRUE(torch::equal(out.anchors, expected["anchors"])) << "anchors differ";
}

TEST_P(RetinaNetParity, DetectionsMatchTorchvision) {
  auto expected = as_map(read_state_dict(file("expected.pth")));
  for (const char* weights : {"retinanet.pth", "retinanet_legacy.pth"}) {
    SCOPED_TRACE(weights);
    auto model = torchvision_model(file(weights));
    auto det = predict_image(model, read_image(file("image.png")), transform(),
                             arch_preset(arch(), 91).postprocess, torch::kCPU);
    ASSERT_EQ(det.scores.size(0), expected["scores"].size(0));
    EXPECT_EQ(det.scores.size(0), 300);
    // The same scores in the same (descending) order, and the same detections: each one's
    // torchvision counterpart has its label, its box within 0.01 px and its score within 1e-4,
    // and is at its rank unless the two scores tie within 1e-4 (two detections whose scores
    // differ by 1e-7 may come in either order once the BLAS or the thread count differs).
    EXPECT_LT((det.scores - expected["scores"]).abs().max().item<double>(), 1e-4);
    const auto labels = det.labels.contiguous(), want_labels = expected["labels"].contiguous();
    const auto scores = det.scores.to(torch::kDouble).contiguous();
    const auto want_scores = expected["scores"].to(torch::kDouble).contiguous();
    const int64_t n = det.scores.size(0);
    std::vector<bool> used(static_cast<size_t>(n), false);
    int64_t unmatched = 0, moved = 0;
    for (int64_t i = 0; i < n; ++i) {
      int64_t found = -1;
      for (int64_t j = 0; j < n && found < 0; ++j) {
        if (used[static_cast<size_t>(j)] ||
            labels[i].item<int64_t>() != want_labels[j].item<int64_t>() ||
            std::abs(scores[i].item<double>() - want_scores[j].item<double>()) >= 1e-4 ||
            (det.boxes[i] - expected["boxes"][j]).abs().max().item<double>() >= 0.01) {
          continue;
        }
        found = j;
      }
      if (found < 0) {
        ++unmatched;
        continue;
      }
      used[static_cast<size_t>(found)] = true;
      if (found != i) {
        ++moved;
        EXPECT_LT(std::abs(want_scores[found].item<double>() - want_scores[i].item<double>()), 1e-4)
            << "detection " << i << " is torchvision's " << found << ", whose score does not tie";
      }
    }
    EXPECT_EQ(unmatched, 0) << "detections without a torchvision counterpart";
    EXPECT_LE(moved, 8) << "detections off their rank (ties)";
  }
}

TEST_P(RetinaNetV1Parity, ImageNetResNetInitializesTheBackbone) {
  models::ResNetOptions o;
  o.preset = "resnet50";
  models::ResNet backbone(o);
  load_backbone_weights(backbone, file("resnet50.pth"));  // legacy format, fc.* dropped
  backbone->eval();
  torch::NoGradGuard no_grad;
  auto input = as_map(read_state_dict(file("resnet_input.pth")))["input"];
  auto expected = as_map(read_state_dict(file("resnet_expected.pth")));
  auto c = backbone->forward(input);
  EXPECT_LT(relative_error(c.c3, expected["c3"], "resnet50 c3"), 1e-4);
  EXPECT_LT(relative_error(c.c4, expected["c4"], "resnet50 c4"), 1e-4);
  EXPECT_LT(relative_error(c.c5, expected["c5"], "resnet50 c5"), 1e-4);
}

// A focalab checkpoint written by write_model_weights opens in Python's torch.load as a
// dict (torch::pickle_save's; load_state_dict takes it) with the same values, in the same order.
TEST_P(RetinaNetV1Parity, FocalabCheckpointsOpenInTorchLoad) {
  auto model = torchvision_model(file("retinanet.pth"));
  const std::string path = file("focalab.pth");
  write_model_weights(model, path);
  const std::string cmd =
      std::string(kPython) + " -c \"import torch, collections; sd = torch.load('" + path +
      "'); src = torch.load('" + file("retinanet.pth") +
      "'); assert isinstance(sd, dict), type(sd); "
      "assert list(sd)[0] == 'backbone.conv1.weight', list(sd)[:3]; "
      "w = sd['head.classification_head.cls_logits.weight']; "
      "assert torch.equal(w, src['head.classification_head.cls_logits.weight']); "
      "assert torch.equal(sd['backbone.layer4.2.bn3.running_var'], "
      "src['backbone.body.layer4.2.bn3.running_var']); print(len(sd))\"";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

INSTANTIATE_TEST_SUITE_P(Torchvision, RetinaNetParity, ::testing::Values("v1", "v2"));
INSTANTIATE_TEST_SUITE_P(Torchvision, RetinaNetV1Parity, ::testing::Values("v1"));

}  // namespace
}  // namespace focalab::harness
