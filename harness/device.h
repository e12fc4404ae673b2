#pragma once
// Device and thread selection shared by every command.

#include <torch/types.h>

#include <string>

namespace focalab::harness {

// "auto" (CUDA when usable, else CPU), "cpu", "cuda" or "cuda:N". Throws UsageError for anything
// else or for CUDA when this LibTorch has none.
torch::Device resolve_device(const std::string& spec);

// Sets LibTorch's intra-op thread count: `requested` > 0, or all hardware threads for 0
// (Debian's LibTorch otherwise runs on one thread). Returns the count in effect.
int64_t configure_threads(int64_t requested);

}  // namespace focalab::harness
