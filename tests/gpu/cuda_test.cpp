// The CUDA path against the CPU path (ctest label gpu; every test skips where LibTorch has no
// CUDA device, so a CPU-only build runs none of them): the focal loss with its accounting, the
// model's forward, a full training iteration and evaluation-time postprocessing give the CPU's
// numbers on the GPU. TF32 is turned off so that convolutions compare to float rounding.

#include <torch/cuda.h>
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "harness/train/train_step.h"
#include "harness/train/trainer.h"
#include "losses/focal_loss.h"
#include "losses/loss_breakdown.h"
#include "models/postprocess.h"
#include "tiny_config.h"

namespace focalab::harness {
namespace {

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
  const torch::Device cuda{torch::kCUDA, 0};
};

// loss, gradient and breakdown sums of the fused focal loss: CUDA equals CPU.
TEST_F(Cuda, FocalLossSumAndAccountingMatchCpu) {
  torch::manual_seed(0);
  const int64_t m = 5000, k = 80;
  auto x = torch::randn({m, k}) * 3 - 2;
  x.index_put_({0, 0}, 100.0);
  x.index_put_({1, 1}, -100.0);
  auto labels = torch::randint(-2, k, {m}, torch::kLong).clamp_min(-2);
  losses::LossBreakdown cpu_breakdown(k), cuda_breakdown(k);
  auto xc = x.clone().requires_grad_(true);
  auto xg = x.to(cuda).requires_grad_(true);
  auto lc = losses::focal_loss_sum(xc, labels, 2.0, 0.25, 0.01, &cpu_breakdown);
  auto lg = losses::focal_loss_sum(xg, labels.to(cuda), 2.0, 0.25, 0.01, &cuda_breakdown);
  lc.backward();
  lg.backward();
  EXPECT_TRUE(torch::allclose(lg.cpu(), lc, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(xg.grad().cpu(), xc.grad(), 1e-5, 1e-7));
  cpu_breakdown.finish_iteration(0, 1);
  cuda_breakdown.finish_iteration(0, 1);
  auto a = cpu_breakdown.take(), b = cuda_breakdown.take();
  ASSERT_EQ(a.count.size(), b.count.size());
  for (size_t i = 0; i < a.count.size(); ++i) {
    EXPECT_EQ(a.count[i], b.count[i]) << i;
    EXPECT_NEAR(a.loss_sum[i], b.loss_sum[i], 1e-4 * std::max(1.0, std::abs(a.loss_sum[i]))) << i;
  }
}

using test_presets::tiny_config;

harness::StepInput batch(const torch::Device& device) { return test_presets::tiny_batch(device); }

// Two training iterations of the tiny preset (forward, matching, losses with accounting,
// backward, SGD): losses and updated weights on CUDA equal the CPU's.
TEST_F(Cuda, TrainingIterationsMatchCpu) {
  const auto config = tiny_config();
  const harness::TrainStep step(config, 4);
  std::vector<double> losses_on[2];
  std::vector<torch::Tensor> weights_on[2];
  for (int d = 0; d < 2; ++d) {
    const torch::Device device = d == 0 ? torch::Device(torch::kCPU) : cuda;
    torch::manual_seed(0);
    models::RetinaNet model(harness::retinanet_options(config));
    model->to(device);
    model->train();
    auto sgd_ptr = harness::make_sgd(model->parameters(), 0.9, 1e-4);
    harness::Sgd& sgd = *sgd_ptr;
    losses::LossBreakdown breakdown(4);
    double ema = 100;
    for (int it = 0; it < 2; ++it) {
      auto s = step.losses(model, batch(device), ema, &breakdown);
      losses_on[d].push_back(s.loss_cls.item<double>());
      losses_on[d].push_back(s.loss_box.item<double>());
      step.update(s, sgd, 0.01);
    }
    for (auto& p : model->parameters()) weights_on[d].push_back(p.detach().cpu());
  }
  for (size_t i = 0; i < losses_on[0].size(); ++i) {
    EXPECT_NEAR(losses_on[1][i], losses_on[0][i], 1e-3 * std::abs(losses_on[0][i])) << i;
  }
  for (size_t i = 0; i < weights_on[0].size(); ++i) {
    EXPECT_TRUE(torch::allclose(weights_on[1][i], weights_on[0][i], 1e-3, 1e-5)) << i;
  }
}

// Mixed precision on CUDA: bf16 and fp16 (with its loss scale) train two iterations of the tiny
// preset with finite losses within a few percent of float32's, and the losses are float32.
TEST_F(Cuda, MixedPrecisionIterations) {
  std::vector<double> reference;
  for (const char* amp : {"off", "bf16", "fp16"}) {
    auto config = tiny_config();
    config.train.amp = *harness::enum_named<harness::AmpMode>(amp);
    const harness::TrainStep step(config, 4);
    torch::manual_seed(0);
    models::RetinaNet model(harness::retinanet_options(config));
    model->to(cuda);
    model->train();
    auto sgd_ptr = harness::make_sgd(model->parameters(), 0.9, 1e-4);
    harness::Sgd& sgd = *sgd_ptr;
    double ema = 100;
    std::vector<double> losses_now;
    for (int it = 0; it < 2; ++it) {
      auto s = step.losses(model, batch(cuda), ema, nullptr);
      EXPECT_EQ(s.loss.scalar_type(), torch::kFloat) << amp;
      losses_now.push_back(s.loss.item<double>());
      EXPECT_TRUE(step.update(s, sgd, 0.01)) << amp << " iteration " << it;
    }
    if (reference.empty()) reference = losses_now;
    for (size_t i = 0; i < losses_now.size(); ++i) {
      EXPECT_TRUE(std::isfinite(losses_now[i])) << amp;
      EXPECT_NEAR(losses_now[i], reference[i], 0.05 * reference[i]) << amp << " " << i;
    }
  }
}

// Inference postprocessing (threshold, top-k, decode, NMS) on CUDA keeps the CPU's detections
// for the same outputs (random logits: no ties in the top-k).
TEST_F(Cuda, PostprocessMatchesCpu) {
  const auto config = tiny_config();
  torch::manual_seed(0);
  models::RetinaNet model(harness::retinanet_options(config));
  model->eval();
  torch::NoGradGuard no_grad;
  auto out = model->forward(batch(torch::kCPU).images);
  auto logits = torch::randn_like(out.cls_logits[0]) * 2 - 3;
  auto deltas = torch::randn_like(out.box_deltas[0]) * 0.1;
  const models::BoxCoder coder;
  const models::PostprocessOptions pp{0.05, 1000, 0.5, 100};
  auto a = models::postprocess_detections(logits, deltas, out.anchors, out.anchors_per_level, 128,
                                          128, coder, pp);
  auto b = models::postprocess_detections(logits.to(cuda), deltas.to(cuda), out.anchors.to(cuda),
                                          out.anchors_per_level, 128, 128, coder, pp);
  ASSERT_EQ(a.scores.size(0), b.scores.size(0));
  ASSERT_EQ(a.scores.size(0), 100);
  EXPECT_TRUE(torch::allclose(b.scores.cpu(), a.scores, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(b.boxes.cpu(), a.boxes, 1e-4, 1e-3));
  EXPECT_TRUE(torch::equal(b.labels.cpu(), a.labels));
}

}  // namespace
}  // namespace focalab::harness
