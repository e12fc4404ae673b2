// train.amp on the CPU: bf16 autocast runs the forward pass in bfloat16 (LibTorch's CPU
// autocast), the losses stay float32, and training follows float32 closely; fp16 is refused off
// CUDA; the key leaves `off` out so that older trial keys stay valid.

#include <torch/torch.h>

#include <gtest/gtest.h>

#include "harness/config/config.h"
#include "harness/train/amp.h"
#include "harness/train/train_step.h"
#include "harness/train/trainer.h"
#include "harness/util/errors.h"
#include "tiny_config.h"

namespace focalab::harness {
namespace {

// Two SGD iterations of the tiny preset; returns the four losses (cls, box per iteration).
std::vector<double> two_iterations(const std::string& amp, torch::ScalarType* logits_dtype) {
  auto config = test_presets::tiny_config();
  config.train.amp = *enum_named<AmpMode>(amp);
  const TrainStep step(config, 4);
  torch::manual_seed(0);
  models::RetinaNet model(retinanet_options(config));
  model->train();
  auto sgd_ptr = make_sgd(model->parameters(), 0.9, 1e-4);
  Sgd& sgd = *sgd_ptr;
  double ema = 100;
  std::vector<double> out;
  for (int it = 0; it < 2; ++it) {
    auto s = step.losses(model, test_presets::tiny_batch(torch::kCPU), ema, nullptr);
    *logits_dtype = s.out.cls_logits.scalar_type();
    EXPECT_EQ(s.loss.scalar_type(), torch::kFloat);
    out.push_back(s.loss_cls.item<double>());
    out.push_back(s.loss_box.item<double>());
    EXPECT_TRUE(step.update(s, sgd, 0.01));
  }
  return out;
}

TEST(Amp, Bf16TrainsCloseToFloat32WithFloat32Losses) {
  torch::ScalarType dtype_off, dtype_bf16;
  const auto off = two_iterations("off", &dtype_off);
  const auto bf16 = two_iterations("bf16", &dtype_bf16);
  EXPECT_EQ(dtype_off, torch::kFloat);
  EXPECT_EQ(dtype_bf16, torch::kFloat);  // cast back for the losses
  bool any_differs = false;
  for (size_t i = 0; i < off.size(); ++i) {
    EXPECT_TRUE(std::isfinite(bf16[i]));
    // bfloat16 has 8 significant bits: the losses move by a fraction of a percent, not more.
    EXPECT_NEAR(bf16[i], off[i], 0.03 * off[i]) << i;
    any_differs = any_differs || bf16[i] != off[i];
  }
  EXPECT_TRUE(any_differs) << "autocast had no effect";
}

TEST(Amp, AutocastGuardCastsConvolutionsAndRestores) {
  auto x = torch::randn({1, 3, 8, 8}), w = torch::randn({4, 3, 3, 3});
  {
    AutocastGuard guard(torch::kCPU, torch::kBFloat16);
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kFloat);
  AutocastGuard off(torch::kCPU, std::nullopt);
  EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kFloat);
}

TEST(Amp, Fp16NeedsCudaAndOffStaysOutOfTheKey) {
  EXPECT_EQ(amp_unsupported(AmpMode::kFp16, torch::kCPU),
            "fp16 needs a CUDA device, this run's is cpu (use bf16 or off)");
  EXPECT_EQ(amp_unsupported(AmpMode::kBf16, torch::kCPU), "");
  EXPECT_EQ(amp_unsupported(AmpMode::kOff, torch::kCPU), "");
  TrialConfig c;
  // a value outside the set is refused where it is read, naming the key and what is allowed
  try {
    set_value(c, "train.amp", YAML::Node("fp8"), {"command line", 0});
    FAIL() << "train.amp=fp8 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "command line: train.amp: 'fp8' is not allowed; allowed: one of off, bf16, fp16 "
              "(did you mean 'fp16'?)");
  }
  EXPECT_EQ(config_to_json(c).find("train.amp"), std::string::npos);
  c.train.amp = AmpMode::kBf16;
  EXPECT_NE(config_to_json(c).find("\"train.amp\":\"bf16\""), std::string::npos);
}

}  // namespace
}  // namespace focalab::harness
