#pragma once
// The tiny preset (experiments/configs/tiny.yaml, compiled in) and a small batch, for tests that
// build the model in code.

#include <torch/torch.h>

#include "harness/config/presets.h"
#include "harness/config/trial_config.h"
#include "harness/train/train_step.h"

namespace focalab::test_presets {

inline harness::TrialConfig tiny_config() { return harness::preset_config("tiny"); }

// Two images of 128 px with three objects.
inline harness::StepInput tiny_batch(const torch::Device& device) {
  torch::manual_seed(1);
  harness::StepInput in;
  in.images = torch::rand({2, 3, 128, 128}).to(device);
  in.gt_boxes = {torch::tensor({10.f, 12.f, 60.f, 50.f, 70.f, 64.f, 120.f, 126.f}).view({2, 4}),
                 torch::tensor({30.f, 30.f, 90.f, 100.f}).view({1, 4})};
  in.gt_classes = {torch::tensor({0, 3}, torch::kLong), torch::tensor({2}, torch::kLong)};
  for (auto& t : in.gt_boxes) t = t.to(device);
  for (auto& t : in.gt_classes) t = t.to(device);
  return in;
}

}  // namespace focalab::test_presets
