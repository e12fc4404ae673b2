#pragma once
// The kernel's implementations behind focal_kernel.h's dispatch (dispatch.cpp), and what the two
// vectorized ones share: the modulating factor's cases and the positives' sums of the
// accounting. Not part of the losses library's interface.

#include <cstdint>
#include <type_traits>

#include "losses/kernel/focal_kernel.h"

#if defined(__x86_64__) || defined(__i386__)
#define FOCALAB_KERNEL_X86 1  // avx2.cpp and avx512.cpp are compiled (and run where the CPU can)
#endif

namespace focalab::losses::kernel::detail {

// Each path's label form (focal_rows) and dense form (focal_dense), same contracts. The
// vectorized ones exist on x86 only (FOCALAB_KERNEL_X86), and run only where the CPU has them.
double rows_portable(const float* logits, const int64_t* labels, float* grad, int64_t rb,
                     int64_t re, int64_t k, const FocalParams& p, Accounting* acc);
double dense_portable(const float* logits, const float* targets, float* loss, float* grad,
                      int64_t begin, int64_t end, const FocalParams& p);
double rows_avx2(const float* logits, const int64_t* labels, float* grad, int64_t rb, int64_t re,
                 int64_t k, const FocalParams& p, Accounting* acc);
double dense_avx2(const float* logits, const float* targets, float* loss, float* grad,
                  int64_t begin, int64_t end, const FocalParams& p);
double rows_avx512(const float* logits, const int64_t* labels, float* grad, int64_t rb,
                   int64_t re, int64_t k, const FocalParams& p, Accounting* acc);
double dense_avx512(const float* logits, const float* targets, float* loss, float* grad,
                    int64_t begin, int64_t end, const FocalParams& p);

// The modulating factor (1 - p_t)^gamma, chosen once per call: gamma 0, 1, 2 or any other.
enum Mod { kModOne, kModQ, kModQ2, kModPow };

inline Mod mod_kind(float gamma) {
  return gamma == 0.f ? kModOne : gamma == 1.f ? kModQ : gamma == 2.f ? kModQ2 : kModPow;
}

// f(std::integral_constant<Mod, M>{}) for gamma's case M: a path's loops are instantiated once
// per case, and the case is chosen here, once per call.
template <class F>
double with_mod(float gamma, F&& f) {
  switch (mod_kind(gamma)) {
    case kModOne: return f(std::integral_constant<Mod, kModOne>{});
    case kModQ: return f(std::integral_constant<Mod, kModQ>{});
    case kModQ2: return f(std::integral_constant<Mod, kModQ2>{});
    case kModPow: break;
  }
  return f(std::integral_constant<Mod, kModPow>{});
}

// The positives' sums of the accounting path: a positive's loss goes to these and not into the
// loss buffer, where an inf or NaN, or a large value among the negatives' small ones, would
// spoil the negatives' sums.
struct PosSums {
  double* n;
  double* l;
  double* hard_n;
  float theta;
  // Moves the loss of a row's positive class `label` out of the row's loss buffer `loss` (its
  // lane becomes 0) into these sums; x: the row's logits.
  void take(int64_t label, float* loss, const float* x) const {
    n[label] += 1;
    l[label] += loss[label];
    loss[label] = 0.f;
    if (x[label] >= theta) hard_n[label] += 1;
  }
};

}  // namespace focalab::losses::kernel::detail
