#pragma once
// Device and thread selection shared by every command.

#include <torch/types.h>

#include <string>

namespace focalab::harness {
inline namespace run {

// "auto" (CUDA when usable, else CPU), "cpu", "cuda" or "cuda:N". Throws UsageError for anything
// else or for CUDA when this LibTorch has none.
torch::Device resolve_device(const std::string& spec);

// Flushes subnormal floats to zero (FTZ + DAZ) on this thread and LibTorch's CPU threads, unless
// FOCALAB_DENORMALS=keep. A confident classifier's sigmoid gradients underflow into subnormals
// (p^gamma of an easy negative), which x86 computes up to ~100x slower: training slowed down
// as it learned. Values below 1.2e-38 become 0; nothing a loss or AP can see. Returns whether set.
// Called by configure_threads.
bool flush_denormals();

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

}  // namespace run
}  // namespace focalab::harness
