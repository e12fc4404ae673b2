#include "harness/run/device.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace run {

torch::Device resolve_device(const std::string& spec) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
  if (spec == "cpu") return torch::kCPU;
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw UsageError(fmt::format("--device {}: CUDA is not usable with this LibTorch build "
                                   "(allowed here: auto, cpu)",
                                   spec));
    }
    int64_t index = 0;
    if (spec.size() > 5) {
      try {
        size_t used = 0;
        index = std::stoll(spec.substr(5), &used);
        if (used != spec.size() - 5) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        throw UsageError(fmt::format("--device {}: bad device index (allowed: cuda:N)", spec));
      }
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (index < 0 || index >= count) {
      throw UsageError(fmt::format("--device {}: no such GPU ({} visible)", spec, count));
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw UsageError(fmt::format("--device '{}': allowed: auto, cpu, cuda, cuda:N", spec));
}

bool flush_denormals() {
  const char* keep = std::getenv("FOCALAB_DENORMALS");
  if (keep && std::string(keep) == "keep") return false;
#if defined(__SSE__) || defined(__x86_64__)
  // FTZ (bit 15) and DAZ (bit 6) of MXCSR, per thread: on this one and on every thread of the
  // OpenMP team LibTorch's kernels (and oneDNN's) run on.
  constexpr unsigned kFtzDaz = 0x8040;
  _mm_setcsr(_mm_getcsr() | kFtzDaz);
#pragma omp parallel
  { _mm_setcsr(_mm_getcsr() | kFtzDaz); }
  return true;
#else
  return false;
#endif
}

int64_t max_threads() {
  return std::max<int64_t>(16, 4 * static_cast<int64_t>(std::thread::hardware_concurrency()));
}

void check_threads(int64_t requested) {
  if (requested < 0 || requested > max_threads()) {
    throw UsageError(fmt::format("threads {}: allowed 0..{} (0 = all {} cores; at most 4x the "
                                 "cores this machine has)",
                                 requested, max_threads(), std::thread::hardware_concurrency()));
  }
}

int64_t configure_threads(int64_t requested) {
  check_threads(requested);
  const int64_t n = requested > 0 ? requested
                                  : std::max<int64_t>(1, std::thread::hardware_concurrency());
  torch::set_num_threads(static_cast<int>(n));
  flush_denormals();
  return n;
}

}  // namespace run
}  // namespace focalab::harness
