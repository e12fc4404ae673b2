#pragma once
// Fused sigmoid focal-loss kernels for contiguous float32 CPU memory: one pass computes the loss
// and its analytic gradient (and optionally the loss accounting), so that backward is a single
// scaling pass or none at all. Three implementations of the same formulas, one file each:
// avx512.cpp (16 lanes), avx2.cpp (8 lanes, AVX2 + FMA) and portable.cpp (one element at a time,
// through losses/focal_formula.h); dispatch.cpp picks the best the CPU runs, or the one a caller
// names in FocalParams::path (the tests compare them).
//
// Per element, with z = x for target 1 and -x for target 0 (so p_t = sigmoid(z)),
// L = log(1 + exp(-|z|)):
//   ce = -log(p_t) = max(-z, 0) + L          log(1 - p_t) = -max(z, 0) - L
//   FL = alpha_t (1 - p_t)^gamma ce
//   dFL/dx = -y alpha_t (1 - p_t)^gamma ((1 - p_t) + gamma p_t ce),  y = +1 / -1  (Appendix B)
// Every term is finite for any finite logit.

#include <cstdint>

namespace focalab::losses::kernel {

// Which implementation computes a call. kBest: the fastest this CPU runs. A named path the CPU
// lacks falls back to the best one below it (AVX-512 -> AVX2 -> portable).
enum class KernelPath { kBest, kAvx512, kAvx2, kPortable };

struct FocalParams {
  KernelPath path = KernelPath::kBest;
  float gamma = 2.f;
  float alpha = 0.25f;      // used when use_alpha
  bool use_alpha = true;
  float scale = 1.f;        // multiplies loss and gradient (e.g. 1 / normalizer)
};

// Per-thread accounting accumulators: [3 categories][K classes] counts and loss sums.
struct Accounting {
  double* count;     // [3 * K] (positive, hard negative, easy negative) x class
  double* loss_sum;  // [3 * K]
  float hard_theta;  // negatives with x >= hard_theta are hard (hard_logit_threshold)
};

// The smallest float x with sigmoid(x) >= hard_score (sigmoid in float, as LibTorch computes
// it), so that x >= it is the same test as sigmoid(x) >= hard_score: -inf for 0, and the
// point where sigmoid rounds to 1 for 1.
float hard_logit_threshold(float hard_score);

// Label form over rows [row_begin, row_end) of an [M, K] logits matrix. REQUIRES: every label in
// [-2, K) (the autograd wrapper checks). labels[m]: class k in
// [0, K) (that class is the positive target), -1 (all targets 0) or -2 (ignored row: no loss,
// gradient 0). Writes grad (scaled) for every element of the rows; returns the scaled loss sum.
// acc may be null.
double focal_rows(const float* logits, const int64_t* labels, float* grad, int64_t row_begin,
                  int64_t row_end, int64_t num_classes, const FocalParams& p, Accounting* acc);

// Dense form over elements [begin, end): targets in {0, 1}. Writes the per-element loss to
// `loss` (may be null) and the gradient to `grad` (scaled); returns the scaled loss sum.
double focal_dense(const float* logits, const float* targets, float* loss, float* grad,
                   int64_t begin, int64_t end, const FocalParams& p);

// The implementation `path` resolves to on this CPU (never kBest), and its name: "AVX-512",
// "AVX2" or "portable".
KernelPath resolve_path(KernelPath path);
const char* path_name(KernelPath path);

}  // namespace focalab::losses::kernel
