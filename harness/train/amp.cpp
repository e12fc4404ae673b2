#include "harness/train/amp.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <fmt/format.h>

#include "harness/util/errors.h"

// LibTorch 2.4 replaced the per-backend autocast functions by ones that take the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define FOCALAB_AUTOCAST_BY_DEVICE 1
#endif

namespace focalab::harness {
inline namespace train {

std::optional<torch::ScalarType> amp_dtype(AmpMode amp) {
  switch (amp) {
    case AmpMode::kOff: return std::nullopt;
    case AmpMode::kBf16: return torch::kBFloat16;
    case AmpMode::kFp16: return torch::kHalf;
  }
  return std::nullopt;
}

std::string amp_unsupported(AmpMode amp, const torch::Device& device) {
  if (amp == AmpMode::kFp16 && !device.is_cuda()) {
    return fmt::format("fp16 needs a CUDA device, this run's is {} (use bf16 or off)",
                       device.str());
  }
  return "";
}

namespace {

bool autocast_enabled(torch::DeviceType type) {
#ifdef FOCALAB_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

torch::ScalarType autocast_dtype(torch::DeviceType type) {
#ifdef FOCALAB_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(type);
#else
  return type == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype()
                              : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast(torch::DeviceType type, bool enabled, torch::ScalarType dtype) {
#ifdef FOCALAB_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(type, enabled);
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == torch::kCUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

}  // namespace

AutocastGuard::AutocastGuard(const torch::Device& device, std::optional<torch::ScalarType> dtype) {
  if (!dtype) return;
  type_ = device.is_cuda() ? torch::kCUDA : torch::kCPU;
  prev_enabled_ = autocast_enabled(type_);
  prev_dtype_ = autocast_dtype(type_);
  set_autocast(type_, true, *dtype);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(type_, prev_enabled_, prev_dtype_);
}

bool LossScaler::unscale_and_check(std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  const double inv = 1.0 / scale_;
  std::vector<torch::Tensor> finite;
  for (auto& p : params) {
    if (!p.grad().defined()) continue;
    p.mutable_grad().mul_(inv);
    finite.push_back(torch::isfinite(p.grad()).all());
  }
  // One device-to-host read for all of them.
  const bool ok = finite.empty() || torch::stack(finite).all().item<bool>();
  if (!ok) {
    scale_ /= 2;
    good_steps_ = 0;
    ++skipped_;
    return false;
  }
  if (++good_steps_ == 2000) {
    scale_ *= 2;
    good_steps_ = 0;
  }
  return true;
}

}  // namespace train
}  // namespace focalab::harness
