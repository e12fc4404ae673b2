// The kernel's entry points: the implementation a call names (FocalParams::path), or the best
// this CPU runs, chosen once per call.

#include <cmath>
#include <limits>

#include "losses/kernel/focal_kernel.h"
#include "losses/kernel/paths.h"

namespace focalab::losses::kernel {

namespace {

// The best path of this CPU, detected once. The AVX-512 code also uses AVX2 and FMA
// instructions.
KernelPath best_path() {
#ifdef FOCALAB_KERNEL_X86
  static const KernelPath best = [] {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
      return KernelPath::kPortable;
    }
    return __builtin_cpu_supports("avx512f") ? KernelPath::kAvx512 : KernelPath::kAvx2;
  }();
  return best;
#else
  return KernelPath::kPortable;
#endif
}

int rank(KernelPath path) {
  switch (path) {
    case KernelPath::kPortable: return 0;
    case KernelPath::kAvx2: return 1;
    case KernelPath::kAvx512: return 2;
    case KernelPath::kBest: break;
  }
  return 3;
}

}  // namespace

KernelPath resolve_path(KernelPath path) {
  const KernelPath best = best_path();
  return rank(path) < rank(best) ? path : best;
}

const char* path_name(KernelPath path) {
  switch (resolve_path(path)) {
    case KernelPath::kAvx512: return "AVX-512";
    case KernelPath::kAvx2: return "AVX2";
    default: return "portable";
  }
}

float hard_logit_threshold(float hard_score) {
  if (!(hard_score > 0.f)) return -std::numeric_limits<float>::infinity();
  // sigmoid as LibTorch computes it in float; non-decreasing in x.
  const auto sig = [](float x) { return 1.f / (1.f + std::exp(-x)); };
  // sig(-120) = 0 < hard_score <= 1 = sig(20): bisect to the smallest float with sig(x) >=
  // hard_score (about 30 halvings).
  float lo = -120.f, hi = 20.f;
  if (sig(hi) < hard_score) return std::numeric_limits<float>::infinity();
  while (std::nextafter(lo, hi) < hi) {
    const float mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (sig(mid) >= hard_score ? hi : lo) = mid;
  }
  return hi;
}

double focal_rows(const float* logits, const int64_t* labels, float* grad, int64_t row_begin,
                  int64_t row_end, int64_t num_classes, const FocalParams& p, Accounting* acc) {
  if (num_classes <= 0) return 0;  // nothing to compute (and an empty tensor's data may be null)
  switch (resolve_path(p.path)) {
#ifdef FOCALAB_KERNEL_X86
    case KernelPath::kAvx512:
      return detail::rows_avx512(logits, labels, grad, row_begin, row_end, num_classes, p, acc);
    case KernelPath::kAvx2:
      return detail::rows_avx2(logits, labels, grad, row_begin, row_end, num_classes, p, acc);
#endif
    default:
      return detail::rows_portable(logits, labels, grad, row_begin, row_end, num_classes, p, acc);
  }
}

double focal_dense(const float* logits, const float* targets, float* loss, float* grad,
                   int64_t begin, int64_t end, const FocalParams& p) {
  switch (resolve_path(p.path)) {
#ifdef FOCALAB_KERNEL_X86
    case KernelPath::kAvx512: return detail::dense_avx512(logits, targets, loss, grad, begin, end, p);
    case KernelPath::kAvx2: return detail::dense_avx2(logits, targets, loss, grad, begin, end, p);
#endif
    default: return detail::dense_portable(logits, targets, loss, grad, begin, end, p);
  }
}

}  // namespace focalab::losses::kernel
