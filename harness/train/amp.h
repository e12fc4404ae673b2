#pragma once
// Mixed precision for training (`train.amp`): LibTorch's autocast around the forward pass, the
// losses in float32, and for fp16 a dynamic loss scale like torch.cuda.amp.GradScaler.

#include <torch/types.h>

#include <optional>
#include <string>

#include "harness/config/trial_config.h"

namespace focalab::harness {
inline namespace train {

// The autocast dtype of `amp` (nullopt for off).
std::optional<torch::ScalarType> amp_dtype(AmpMode amp);

// Why `amp` cannot run on `device` ("" when it can): fp16 autocast needs CUDA.
std::string amp_unsupported(AmpMode amp, const torch::Device& device);

// Autocast for `device` with `dtype` while alive (nothing when dtype is nullopt); restores the
// previous state and clears the cast cache when the outermost guard ends.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, std::optional<torch::ScalarType> dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  torch::DeviceType type_ = torch::kCPU;
  bool prev_enabled_ = false;
  torch::ScalarType prev_dtype_ = torch::kFloat;
};

// Dynamic loss scaling for fp16 (torch.cuda.amp.GradScaler's defaults): the loss is multiplied
// by scale() before backward; unscale_and_check() divides the gradients by it and says whether
// they are all finite. A step with a non-finite gradient is skipped and the scale halved; after
// 2000 finite steps in a row it doubles.
class LossScaler {
 public:
  double scale() const { return scale_; }
  // Divides every defined gradient by scale(); returns false (and halves the scale) if any is
  // inf or NaN.
  bool unscale_and_check(std::vector<torch::Tensor>& params);
  int64_t skipped() const { return skipped_; }

 private:
  double scale_ = 65536.0;
  int64_t good_steps_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace train
}  // namespace focalab::harness
