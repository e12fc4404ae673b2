#pragma once
// Device and thread selection shared by every command.

#include <torch/types.h>

#include <string>

namespace focalab::harness {

// "auto" (CUDA when usable, else CPU), "cpu", "cuda" or "cuda:N". Throws UsageError for anything
// else or for CUDA when this LibTorch has none.
torch::Device resolve_device(const std::string& spec);

// The most CPU threads a run may ask for: 4 x the hardware threads this machine has (at least
// 16). More gains nothing, and far more makes LibTorch's pool creation hang or abort when the
// system cannot give the threads.
int64_t max_threads();

// Throws UsageError unless 0 <= requested <= max_threads() (0 = all cores).
void check_threads(int64_t requested);

// Sets LibTorch's intra-op thread count: `requested` > 0, or all hardware threads for 0
// (Debian's LibTorch otherwise runs on one thread). Returns the count in effect. Checks
// `requested` first (check_threads).
int64_t configure_threads(int64_t requested);

}  // namespace focalab::harness
