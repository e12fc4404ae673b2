#pragma once
// The fused sigmoid focal loss (and CE / alpha-CE as its gamma = 0 cases) as differentiable
// LibTorch ops with the analytic gradient (custom autograd functions). On contiguous float32 CPU
// tensors one multi-threaded pass computes loss and gradient together (kernel/focal_kernel.h), and
// backward is a single scaling pass — or none when the upstream gradient is exactly 1. On other
// devices and dtypes the same op is computed from composed ATen ops (loss and gradient in the
// forward, so backward is again one multiply).

#include <torch/types.h>

#include <string>

#include "losses/kernel/focal_kernel.h"
#include "losses/loss_breakdown.h"

namespace focalab::losses {

enum class Reduction { kNone, kSum, kMean };
Reduction parse_reduction(const std::string& name);  // "none" | "sum" | "mean"

// Same contract as torchvision.ops.sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction):
// logits and targets of one shape, targets in {0, 1}; alpha < 0 disables alpha weighting.
// `path`: the CPU kernel's implementation (default: the best this CPU runs; the tests name each).
torch::Tensor sigmoid_focal_loss_fused(const torch::Tensor& logits, const torch::Tensor& targets,
                                       double gamma, double alpha,
                                       Reduction reduction = Reduction::kNone,
                                       kernel::KernelPath path = kernel::KernelPath::kBest);

// The trainer's form: scale * sum of the focal loss over every (row, class) element.
//   logits: [M, K]; labels: [M] int64 — class k in [0, K) (target 1 for class k, 0 for the
//   others), -1 (all targets 0: background) or -2 (ignored: no loss, zero gradient).
// `scale` is usually 1 / normalizer. When `breakdown` is given, the per-category and per-class
// counts and raw loss sums (before `scale`) are added to it in the same pass; the caller closes
// the iteration with LossBreakdown::finish_iteration.
torch::Tensor focal_loss_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                             double gamma, double alpha, double scale,
                             LossBreakdown* breakdown = nullptr,
                             kernel::KernelPath path = kernel::KernelPath::kBest);

// Dense 0/1 targets from per-anchor labels (class k >= 0: one-hot; -1 and -2: all zero).
// labels [...] int64 -> [..., K] of `dtype`.
torch::Tensor one_hot_targets(const torch::Tensor& labels, int64_t num_classes,
                              torch::ScalarType dtype);

// The fused kernel in use on this CPU: "AVX-512", "AVX2" or "portable".
std::string fused_focal_kernel_name();

}  // namespace focalab::losses
