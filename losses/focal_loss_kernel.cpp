#include "losses/focal_loss_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FOCALAB_X86 1
#endif

namespace focalab::losses::kernel {

namespace {

// ---------------------------------------------------------------------------------------------
// Portable path: the formulas of the header, one element at a time.

struct Elem {
  float loss, grad;
};

inline Elem focal_elem(float x, bool pos, const FocalParams& p) {
  const float z = pos ? x : -x;
  const float e = std::exp(-std::fabs(z));
  const float l = std::log1p(e);
  const float ce = std::max(-z, 0.f) + l;
  const float s = 1.f / (1.f + e);
  const float pt = z >= 0 ? s : e * s;
  const float q = z >= 0 ? e * s : s;
  float mod = 1.f;
  if (p.gamma == 1.f) {
    mod = q;
  } else if (p.gamma == 2.f) {
    mod = q * q;
  } else if (p.gamma != 0.f) {
    mod = std::exp(p.gamma * (-std::max(z, 0.f) - l));
  }
  const float at = p.use_alpha ? (pos ? p.alpha : 1.f - p.alpha) : 1.f;
  const float w = at * mod * p.scale;
  const float g = w * (q + p.gamma * pt * ce);
  return {w * ce, pos ? -g : g};
}

double rows_scalar(const float* logits, const int64_t* labels, float* grad, int64_t rb,
                   int64_t re, int64_t k, const FocalParams& p, Accounting* acc) {
  double total = 0;
  for (int64_t r = rb; r < re; ++r) {
    const float* x = logits + r * k;
    float* g = grad + r * k;
    const int64_t label = labels[r];
    if (label == -2) {
      std::memset(g, 0, sizeof(float) * static_cast<size_t>(k));
      continue;
    }
    double row = 0;
    for (int64_t c = 0; c < k; ++c) {
      const bool pos = c == label;
      const Elem e = focal_elem(x[c], pos, p);
      g[c] = e.grad;
      row += e.loss;
      if (acc) {
        const int cat = pos ? 0 : (x[c] >= acc->hard_theta ? 1 : 2);
        acc->count[cat * k + c] += 1;
        acc->loss_sum[cat * k + c] += e.loss;
      }
    }
    total += row;
  }
  return total;
}

double dense_scalar(const float* logits, const float* targets, float* loss, float* grad,
                    int64_t begin, int64_t end, const FocalParams& p) {
  double total = 0;
  for (int64_t i = begin; i < end; ++i) {
    const Elem e = focal_elem(logits[i], targets[i] > 0.5f, p);
    grad[i] = e.grad;
    if (loss) loss[i] = e.loss;
    total += e.loss;
  }
  return total;
}

#ifdef FOCALAB_X86
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA path. exp is the Cephes single-precision polynomial (as in avx_mathfun); log1p of
// e in (0, 1] is an atanh series; both accurate to about 1 ulp over the ranges used here.

#define FOCALAB_AVX2 __attribute__((target("avx2,fma")))
#define FOCALAB_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline
#define FOCALAB_AVX2_LAMBDA __attribute__((target("avx2,fma"), always_inline))

// exp(x) for x <= 0 (every caller's argument is -|z| or gamma log(1 - p_t)). The clamp keeps
// a NaN argument NaN: MAXPS returns its second operand when one of them is NaN.
FOCALAB_AVX2_INLINE __m256 exp256(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-88.3762626647949f), x);
  __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  // The degree-5 polynomial in Estrin's form (three dependent steps instead of five).
  const __m256 p01 = _mm256_fmadd_ps(_mm256_set1_ps(1.9875691500E-4f), x, _mm256_set1_ps(1.3981999507E-3f));
  const __m256 p23 = _mm256_fmadd_ps(_mm256_set1_ps(8.3334519073E-3f), x, _mm256_set1_ps(4.1665795894E-2f));
  const __m256 p45 = _mm256_fmadd_ps(_mm256_set1_ps(1.6666665459E-1f), x, _mm256_set1_ps(5.0000001201E-1f));
  __m256 y = _mm256_fmadd_ps(_mm256_fmadd_ps(p01, z, p23), z, p45);
  y = _mm256_fmadd_ps(y, z, x);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.f));
  __m256i n = _mm256_cvttps_epi32(fx);
  n = _mm256_add_epi32(n, _mm256_set1_epi32(127));
  n = _mm256_slli_epi32(n, 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

// The parameters as vectors; the loss weights carry `scale` (and alpha_t).
struct VecParams {
  __m256 gamma, w_pos, w_neg;
};

// The modulating factor (1 - p_t)^gamma, chosen once per call: gamma 0, 1, 2 or any other.
enum Mod { kModOne, kModQ, kModQ2, kModPow };

Mod mod_kind(float gamma) {
  return gamma == 0.f ? kModOne : gamma == 1.f ? kModQ : gamma == 2.f ? kModQ2 : kModPow;
}

FOCALAB_AVX2_INLINE VecParams vec_params(const FocalParams& p) {
  const float a_pos = p.use_alpha ? p.alpha : 1.f, a_neg = p.use_alpha ? 1.f - p.alpha : 1.f;
  return {_mm256_set1_ps(p.gamma), _mm256_set1_ps(a_pos * p.scale),
          _mm256_set1_ps(a_neg * p.scale)};
}

struct VecOut {
  __m256 loss, grad;
};

// The loss and gradient of 8 logits. kNeg: every target is 0 (pos is ignored);
// otherwise pos has all-ones lanes where the target is 1. A NaN logit gives NaN loss and gradient
// (every step below propagates it).
template <bool kNeg, Mod kMod>
FOCALAB_AVX2_INLINE VecOut focal_vec(__m256 x, __m256 pos, const VecParams& v) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
  const __m256 sign = _mm256_set1_ps(-0.f);
  // z = x for a positive target, -x for a negative one; -z is what ce needs.
  const __m256 minus_z = kNeg ? x : _mm256_blendv_ps(x, _mm256_xor_ps(x, sign), pos);
  const __m256 e = exp256(_mm256_or_ps(x, sign));  // exp(-|z|) in (0, 1]
  // s = 1 / u with u = 1 + e in [1, 2], and 1 / w with w = 2 + e, from one reciprocal of u w
  // refined by a Newton step (about 1 ulp).
  const __m256 u = _mm256_add_ps(one, e);
  const __m256 w2 = _mm256_add_ps(u, one);
  const __m256 uw = _mm256_mul_ps(u, w2);
  __m256 r = _mm256_rcp_ps(uw);
  r = _mm256_mul_ps(r, _mm256_fnmadd_ps(uw, r, _mm256_set1_ps(2.f)));
  const __m256 s = _mm256_mul_ps(r, w2);
  // log1p(e) = 2 atanh(t), t = e / (2 + e) in [0, 1/3]: 2 t (1 + t^2/3 + t^4/5 + ... + t^12/13),
  // truncation error < (1/9)^7 / 15 relative; no cancellation for tiny e.
  const __m256 t = _mm256_mul_ps(e, _mm256_mul_ps(r, u));
  const __m256 t2 = _mm256_mul_ps(t, t);
  // The series in Estrin's form: 1 + T/3 + ... + T^6/13 with T = t^2.
  const __m256 t4 = _mm256_mul_ps(t2, t2);
  const __m256 s01 = _mm256_fmadd_ps(_mm256_set1_ps(1.f / 3), t2, one);
  const __m256 s23 = _mm256_fmadd_ps(_mm256_set1_ps(1.f / 7), t2, _mm256_set1_ps(1.f / 5));
  const __m256 s45 = _mm256_fmadd_ps(_mm256_set1_ps(1.f / 11), t2, _mm256_set1_ps(1.f / 9));
  const __m256 s456 = _mm256_fmadd_ps(_mm256_set1_ps(1.f / 13), t4, s45);
  const __m256 series = _mm256_fmadd_ps(_mm256_fmadd_ps(s456, t4, s23), t4, s01);
  const __m256 l = _mm256_mul_ps(_mm256_add_ps(t, t), series);
  // ce = max(-z, 0) + l (MAXPS returns zero for a NaN -z; l is NaN then).
  const __m256 ce = _mm256_add_ps(_mm256_max_ps(minus_z, zero), l);
  const __m256 z_nonneg = _mm256_cmp_ps(minus_z, zero, _CMP_LE_OQ);
  const __m256 es = _mm256_mul_ps(e, s);
  const __m256 pt = _mm256_blendv_ps(es, s, z_nonneg);
  const __m256 q = _mm256_blendv_ps(s, es, z_nonneg);
  __m256 mod;
  if constexpr (kMod == kModOne) {
    mod = one;
  } else if constexpr (kMod == kModQ) {
    mod = q;
  } else if constexpr (kMod == kModQ2) {
    mod = _mm256_mul_ps(q, q);
  } else {
    // log(1 - p_t) = -max(z, 0) - l = min(-z, 0) - l
    const __m256 log_q = _mm256_sub_ps(_mm256_min_ps(zero, minus_z), l);
    mod = exp256(_mm256_mul_ps(v.gamma, log_q));
  }
  const __m256 w = _mm256_mul_ps(mod, kNeg ? v.w_neg : _mm256_blendv_ps(v.w_neg, v.w_pos, pos));
  const __m256 g = _mm256_mul_ps(w, _mm256_fmadd_ps(_mm256_mul_ps(v.gamma, pt), ce, q));
  // dFL/dx = -g for a positive target, +g for a negative one.
  return {_mm256_mul_ps(w, ce), kNeg ? g : _mm256_xor_ps(g, _mm256_and_ps(pos, sign))};
}

FOCALAB_AVX2_INLINE double hsum(__m256 v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  double s = 0;
  for (float f : t) s += f;
  return s;
}

// One vector of 8 classes of one row: writes the gradient, returns the loss (invalid lanes 0).
// kPos: the chunk holds the row's positive class `label` (otherwise every target is 0).
template <bool kFull, bool kPos, Mod kMod>
FOCALAB_AVX2_INLINE __m256 row_chunk(const float* x, float* g, int64_t c0, int64_t k,
                                       int64_t label, const VecParams& v) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i cls = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(c0)));
  const __m256i valid_i =
      kFull ? _mm256_set1_epi32(-1) : _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)), cls);
  const __m256 xv = kFull ? _mm256_loadu_ps(x + c0) : _mm256_maskload_ps(x + c0, valid_i);
  const __m256 pos = kPos ? _mm256_castsi256_ps(_mm256_cmpeq_epi32(
                                cls, _mm256_set1_epi32(static_cast<int>(label))))
                          : _mm256_setzero_ps();
  const VecOut o = focal_vec<!kPos, kMod>(xv, pos, v);
  if constexpr (kFull) {
    _mm256_storeu_ps(g + c0, o.grad);
    return o.loss;
  } else {
    _mm256_maskstore_ps(g + c0, valid_i, o.grad);
    return _mm256_and_ps(o.loss, _mm256_castsi256_ps(valid_i));
  }
}

// Calls f(c0, full, has_pos) for every 8-class chunk of a row whose positive class is label
// (-1: none), with the template arguments as compile-time constants.
template <typename F>
FOCALAB_AVX2_INLINE void for_chunks(int64_t k, int64_t label, F&& f) {
  const int64_t pos_c0 = label >= 0 ? label / 8 * 8 : -1;
  int64_t c0 = 0;
  for (; c0 + 8 <= k; c0 += 8) {
    if (c0 == pos_c0) {
      f(c0, std::true_type{}, std::true_type{});
    } else {
      f(c0, std::true_type{}, std::false_type{});
    }
  }
  if (c0 < k) {
    if (c0 == pos_c0) {
      f(c0, std::false_type{}, std::true_type{});
    } else {
      f(c0, std::false_type{}, std::false_type{});
    }
  }
}

bool has_avx512();

// The accounting pass over one block with AVX-512, for more classes than account_rows512 keeps in
// registers: 16 classes a vector, the hard test in a mask register (masked adds). xr: the block's
// counted rows' logits; scratch: their losses, one row of kpad floats each, in the same order.
// x0: the block's first row when every row of it is counted (the rows are then k floats apart
// and xr is not read), else null.
__attribute__((target("avx512f"))) void account_block_avx512(
    const float* const* xr, const float* x0, int64_t n, int64_t k, const float* scratch,
    int64_t kpad, float theta, float* hard_n, float* hard_l, float* easy_l) {
  const __m512 one = _mm512_set1_ps(1.f), th = _mm512_set1_ps(theta);
  const auto pass = [&](int64_t c0, auto full, auto contiguous)
                        __attribute__((target("avx512f"), always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const __mmask16 valid = kFull ? static_cast<__mmask16>(0xFFFF)
                                  : static_cast<__mmask16>((1u << (k - c0)) - 1);
    // Two sets of sums (even and odd rows), so that no add waits on the previous row's.
    __m512 n0 = _mm512_setzero_ps(), n1 = n0, h0 = n0, h1 = n0, e0 = n0, e1 = n0;
    const auto add = [&](__m512& cnt, __m512& hl, __m512& el, int64_t r)
                         __attribute__((target("avx512f"), always_inline)) {
      const float* sp = scratch + r * kpad + c0;
      const float* x = (decltype(contiguous)::value ? x0 + r * k : xr[r]) + c0;
      __m512 l = kFull ? _mm512_loadu_ps(sp) : _mm512_maskz_loadu_ps(valid, sp);
      // Keeps l in a register: folded into both adds as a memory operand it is loaded twice,
      // and this pass is bound by its loads (measured 16% faster).
      asm("" : "+v"(l));
      const __mmask16 hard =
          kFull ? _mm512_cmp_ps_mask(_mm512_loadu_ps(x), th, _CMP_GE_OQ)
                : _mm512_mask_cmp_ps_mask(valid, _mm512_maskz_loadu_ps(valid, x), th, _CMP_GE_OQ);
      cnt = _mm512_mask_add_ps(cnt, hard, cnt, one);
      hl = _mm512_mask_add_ps(hl, hard, hl, l);
      el = _mm512_mask_add_ps(el, _mm512_knot(hard), el, l);
    };
    int64_t r = 0;
    for (; r + 3 < n; r += 4) {
      add(n0, h0, e0, r);
      add(n1, h1, e1, r + 1);
      add(n0, h0, e0, r + 2);
      add(n1, h1, e1, r + 3);
    }
    for (; r < n; ++r) add(n0, h0, e0, r);
    _mm512_mask_storeu_ps(hard_n + c0, valid,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(valid, hard_n + c0), _mm512_add_ps(n0, n1)));
    _mm512_mask_storeu_ps(hard_l + c0, valid,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(valid, hard_l + c0), _mm512_add_ps(h0, h1)));
    _mm512_mask_storeu_ps(easy_l + c0, valid,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(valid, easy_l + c0), _mm512_add_ps(e0, e1)));
  };
  const auto passes = [&](auto contiguous) __attribute__((target("avx512f"), always_inline)) {
    int64_t c0 = 0;
    for (; c0 + 16 <= k; c0 += 16) pass(c0, std::true_type{}, contiguous);
    if (c0 < k) pass(c0, std::false_type{}, contiguous);
  };
  if (x0) {
    passes(std::true_type{});
  } else {
    passes(std::false_type{});
  }
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

// The loss pass over rows [r0, r1), streaming through memory once: writes the gradient, and
// either returns the loss sum (kStore false) or writes each counted (not ignored) row's losses to
// scratch (kpad floats a row) and its logits' address to xr, and the number of such rows to
// *counted.
// One function for both, and not inlined, so that the fused loss with and without the two-pass
// accounting run the same compiled loop (its register allocation moved the plain loss by 5%
// either way).
template <Mod kMod, bool kStore>
FOCALAB_AVX2 __attribute__((noinline)) double loss_rows(
    const float* logits, const int64_t* labels, float* grad, int64_t r0, int64_t r1, int64_t k,
    const FocalParams& p, float* scratch, int64_t kpad, const float** xr, const PosSums* ps,
    int64_t* counted) {
  const VecParams v = vec_params(p);
  double total = 0;
  __m256 sum = _mm256_setzero_ps();
  int64_t pending = 0, n = 0;
  for (int64_t r = r0; r < r1; ++r) {
    float* g = grad + r * k;
    const int64_t label = labels[r];
    if (label == -2) {
      std::memset(g, 0, sizeof(float) * static_cast<size_t>(k));
      continue;
    }
    const float* x = logits + r * k;
    if constexpr (kStore) {
      float* s = scratch + n * kpad;
      xr[n++] = x;
      for_chunks(k, label, [&](int64_t c0, auto full, auto has_pos) FOCALAB_AVX2_LAMBDA {
        constexpr bool kPos = decltype(has_pos)::value;
        _mm256_storeu_ps(s + c0, row_chunk<decltype(full)::value, kPos, kMod>(x, g, c0, k, label, v));
        if constexpr (kPos) ps->take(label, s, x);
      });
    } else {
      for_chunks(k, label, [&](int64_t c0, auto full, auto has_pos) FOCALAB_AVX2_LAMBDA {
        sum = _mm256_add_ps(
            sum, row_chunk<decltype(full)::value, decltype(has_pos)::value, kMod>(x, g, c0, k, label, v));
      });
      if (++pending == 64) {
        total += hsum(sum);
        sum = _mm256_setzero_ps();
        pending = 0;
      }
    }
  }
  if constexpr (kStore) *counted = n;
  return total + hsum(sum);
}

// ---------------------------------------------------------------------------------------------
// AVX-512 path: the AVX2 formulas 16 lanes at a time (1.8-2.1x faster per element on the CPUs
// docs/BENCHMARKS.md lists). exp scales by 2^n with SCALEF; the reciprocal starts from RCP14;
// positive lanes and the class tail are mask registers.

// GCC 12 warns that the unmasked AVX-512 intrinsics' `_mm512_undefined_ps()` source may be used
// uninitialized (GCC bug 105593, fixed in GCC 13); it is never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define FOCALAB_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define FOCALAB_AVX512_INLINE __attribute__((target("avx512f,avx2,fma"), always_inline)) inline
#define FOCALAB_AVX512_LAMBDA __attribute__((target("avx512f,avx2,fma"), always_inline))

// The formulas' constants, read through a pointer the compiler cannot see through (`kc` below),
// so that each use is a broadcast memory operand ({1to16}) instead of a register: the accounting
// keeps up to 18 per-class sums in registers through the loss pass, and with the constants
// hoisted into registers the compiler spilled those sums to the stack (a load and a store per
// add).
alignas(64) const float kConst[] = {
    -88.3762626647949f, 1.44269504088896341f, 0.5f, 0.693359375f, -2.12194440e-4f,
    1.9875691500E-4f, 1.3981999507E-3f, 8.3334519073E-3f, 4.1665795894E-2f, 1.6666665459E-1f,
    5.0000001201E-1f, 1.f, 2.f, 1.f / 3, 1.f / 7, 1.f / 5, 1.f / 11, 1.f / 9, 1.f / 13, -127.f};

FOCALAB_AVX512_INLINE const float* constants() {
  const float* kc = kConst;
  asm("" : "+r"(kc));
  return kc;
}

// exp(x) for x <= 0, as exp256: the same reduction and polynomial, 2^n applied with SCALEF, and
// 0 at the clamp's n = -127 (where exp256's exponent field is 0) instead of a denormal; NaN stays
// NaN.
FOCALAB_AVX512_INLINE __m512 exp512(__m512 x) {
  const float* kc = constants();
  x = _mm512_max_ps(_mm512_set1_ps(kc[0]), x);
  __m512 fx = _mm512_fmadd_ps(x, _mm512_set1_ps(kc[1]), _mm512_set1_ps(kc[2]));
  fx = _mm512_roundscale_ps(fx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(kc[3]), x);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(kc[4]), x);
  const __m512 z = _mm512_mul_ps(x, x);
  const __m512 p01 = _mm512_fmadd_ps(_mm512_set1_ps(kc[5]), x, _mm512_set1_ps(kc[6]));
  const __m512 p23 = _mm512_fmadd_ps(_mm512_set1_ps(kc[7]), x, _mm512_set1_ps(kc[8]));
  const __m512 p45 = _mm512_fmadd_ps(_mm512_set1_ps(kc[9]), x, _mm512_set1_ps(kc[10]));
  __m512 y = _mm512_fmadd_ps(_mm512_fmadd_ps(p01, z, p23), z, p45);
  y = _mm512_fmadd_ps(y, z, x);
  y = _mm512_add_ps(y, _mm512_set1_ps(kc[11]));
  return _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(fx, _mm512_set1_ps(kc[19]), _CMP_NLE_UQ), y, fx);
}

struct VecParams512 {
  __m512 gamma, w_pos, w_neg;
};

FOCALAB_AVX512_INLINE VecParams512 vec_params512(const FocalParams& p) {
  const float a_pos = p.use_alpha ? p.alpha : 1.f, a_neg = p.use_alpha ? 1.f - p.alpha : 1.f;
  return {_mm512_set1_ps(p.gamma), _mm512_set1_ps(a_pos * p.scale),
          _mm512_set1_ps(a_neg * p.scale)};
}

struct VecOut512 {
  __m512 loss, grad;
  __m512 w, ce;  // loss = w ce (for fused multiply-adds into sums; unused ones cost nothing)
};

FOCALAB_AVX512_INLINE __m512 xor_sign(__m512 x, __mmask16 m) {
  const __m512i xi = _mm512_castps_si512(x);
  return _mm512_castsi512_ps(_mm512_mask_xor_epi32(xi, m, xi, _mm512_set1_epi32(INT32_MIN)));
}

// focal_vec in 16 lanes; pos: the lanes whose target is 1 (ignored when kNeg).
template <bool kNeg, Mod kMod>
FOCALAB_AVX512_INLINE VecOut512 focal_vec512(__m512 x, __mmask16 pos, const VecParams512& v) {
  const float* kc = constants();
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(kc[11]);
  const __m512 minus_z = kNeg ? x : xor_sign(x, pos);
  const __m512 e = exp512(_mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
  const __m512 u = _mm512_add_ps(one, e);
  const __m512 w2 = _mm512_add_ps(u, one);
  const __m512 uw = _mm512_mul_ps(u, w2);
  __m512 r = _mm512_rcp14_ps(uw);
  r = _mm512_mul_ps(r, _mm512_fnmadd_ps(uw, r, _mm512_set1_ps(kc[12])));
  const __m512 s = _mm512_mul_ps(r, w2);
  const __m512 t = _mm512_mul_ps(e, _mm512_mul_ps(r, u));
  const __m512 t2 = _mm512_mul_ps(t, t);
  const __m512 t4 = _mm512_mul_ps(t2, t2);
  const __m512 s01 = _mm512_fmadd_ps(_mm512_set1_ps(kc[13]), t2, one);
  const __m512 s23 = _mm512_fmadd_ps(_mm512_set1_ps(kc[14]), t2, _mm512_set1_ps(kc[15]));
  const __m512 s45 = _mm512_fmadd_ps(_mm512_set1_ps(kc[16]), t2, _mm512_set1_ps(kc[17]));
  const __m512 s456 = _mm512_fmadd_ps(_mm512_set1_ps(kc[18]), t4, s45);
  const __m512 series = _mm512_fmadd_ps(_mm512_fmadd_ps(s456, t4, s23), t4, s01);
  const __m512 l = _mm512_mul_ps(_mm512_add_ps(t, t), series);
  const __m512 ce = _mm512_add_ps(_mm512_max_ps(minus_z, zero), l);
  const __mmask16 z_nonneg = _mm512_cmp_ps_mask(minus_z, zero, _CMP_LE_OQ);
  const __m512 es = _mm512_mul_ps(e, s);
  const __m512 pt = _mm512_mask_blend_ps(z_nonneg, es, s);
  const __m512 q = _mm512_mask_blend_ps(z_nonneg, s, es);
  __m512 mod;
  if constexpr (kMod == kModOne) {
    mod = one;
  } else if constexpr (kMod == kModQ) {
    mod = q;
  } else if constexpr (kMod == kModQ2) {
    mod = _mm512_mul_ps(q, q);
  } else {
    const __m512 log_q = _mm512_sub_ps(_mm512_min_ps(zero, minus_z), l);
    mod = exp512(_mm512_mul_ps(v.gamma, log_q));
  }
  const __m512 w = _mm512_mul_ps(mod, kNeg ? v.w_neg : _mm512_mask_blend_ps(pos, v.w_neg, v.w_pos));
  const __m512 g = _mm512_mul_ps(w, _mm512_fmadd_ps(_mm512_mul_ps(v.gamma, pt), ce, q));
  return {_mm512_mul_ps(w, ce), kNeg ? g : xor_sign(g, pos), w, ce};
}

FOCALAB_AVX512_INLINE double hsum512(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  double s = 0;
  for (float f : t) s += f;
  return s;
}

// row_chunk for 16 classes: writes the gradient, returns the loss (invalid lanes 0).
template <bool kFull, bool kPos, Mod kMod>
FOCALAB_AVX512_INLINE __m512 row_chunk512(const float* x, float* g, int64_t c0, int64_t k,
                                          int64_t label, const VecParams512& v) {
  const __mmask16 valid = kFull ? static_cast<__mmask16>(0xFFFF)
                                : static_cast<__mmask16>((1u << (k - c0)) - 1);
  const __m512 xv = kFull ? _mm512_loadu_ps(x + c0) : _mm512_maskz_loadu_ps(valid, x + c0);
  const __mmask16 pos = kPos ? static_cast<__mmask16>(1u << (label - c0)) : 0;
  const VecOut512 o = focal_vec512<!kPos, kMod>(xv, pos, v);
  if constexpr (kFull) {
    _mm512_storeu_ps(g + c0, o.grad);
    return o.loss;
  } else {
    _mm512_mask_storeu_ps(g + c0, valid, o.grad);
    return _mm512_maskz_mov_ps(valid, o.loss);
  }
}

// for_chunks over 16-class chunks.
template <typename F>
FOCALAB_AVX512_INLINE void for_chunks16(int64_t k, int64_t label, F&& f) {
  const int64_t pos_c0 = label >= 0 ? label / 16 * 16 : -1;
  int64_t c0 = 0;
  for (; c0 + 16 <= k; c0 += 16) {
    if (c0 == pos_c0) {
      f(c0, std::true_type{}, std::true_type{});
    } else {
      f(c0, std::true_type{}, std::false_type{});
    }
  }
  if (c0 < k) {
    if (c0 == pos_c0) {
      f(c0, std::false_type{}, std::true_type{});
    } else {
      f(c0, std::false_type{}, std::false_type{});
    }
  }
}

// loss_rows with the AVX-512 loss pass (same contract).
template <Mod kMod, bool kStore>
FOCALAB_AVX512 __attribute__((noinline)) double loss_rows512(
    const float* logits, const int64_t* labels, float* grad, int64_t r0, int64_t r1, int64_t k,
    const FocalParams& p, float* scratch, int64_t kpad, const float** xr, const PosSums* ps,
    int64_t* counted) {
  const VecParams512 v = vec_params512(p);
  double total = 0;
  __m512 sum = _mm512_setzero_ps();
  int64_t pending = 0, n = 0;
  for (int64_t r = r0; r < r1; ++r) {
    float* g = grad + r * k;
    const int64_t label = labels[r];
    if (label == -2) {
      std::memset(g, 0, sizeof(float) * static_cast<size_t>(k));
      continue;
    }
    const float* x = logits + r * k;
    if constexpr (kStore) {
      float* s = scratch + n * kpad;
      xr[n++] = x;
      for_chunks16(k, label, [&](int64_t c0, auto full, auto has_pos) FOCALAB_AVX512_LAMBDA {
        constexpr bool kPos = decltype(has_pos)::value;
        _mm512_storeu_ps(s + c0, row_chunk512<decltype(full)::value, kPos, kMod>(x, g, c0, k, label, v));
        if constexpr (kPos) ps->take(label, s, x);
      });
    } else {
      for_chunks16(k, label, [&](int64_t c0, auto full, auto has_pos) FOCALAB_AVX512_LAMBDA {
        sum = _mm512_add_ps(sum, row_chunk512<decltype(full)::value, decltype(has_pos)::value, kMod>(
                                     x, g, c0, k, label, v));
      });
      if (++pending == 64) {
        total += hsum512(sum);
        sum = _mm512_setzero_ps();
        pending = 0;
      }
    }
  }
  if constexpr (kStore) *counted = n;
  return total + hsum512(sum);
}

// f(std::integral_constant<int, I>{}) for I in [J, N).
template <int J, int N, typename F>
FOCALAB_AVX512_INLINE void static_for(F&& f) {
  if constexpr (J < N) {
    f(std::integral_constant<int, J>{});
    static_for<J + 1, N>(f);
  }
}

// The most class chunks of 16 whose accounting sums account_rows512 keeps in registers (3 each).
constexpr int kMaxRegChunks = 6;

// The accounting path's loss pass over rows [r0, r1) with AVX-512 and the accounting in
// registers: per class chunk, hard negatives' count and loss and easy negatives' loss, added as
// each loss is computed (no buffer, no second pass; the compare reuses the logits' register).
// NC: the number of class chunks, ceil(k / 16), so that each chunk's sums are named at compile
// time. Adds the sums to hard_n, hard_l, easy_l (kpad floats each); returns the counted rows.
template <Mod kMod, int NC>
FOCALAB_AVX512 __attribute__((noinline)) int64_t account_rows512(
    const float* logits, const int64_t* labels, float* grad, int64_t r0, int64_t r1, int64_t k,
    const FocalParams& p, const PosSums* ps, float* hard_n, float* hard_l, float* easy_l) {
  const VecParams512 v = vec_params512(p);
  const __m512 th = _mm512_set1_ps(ps->theta), one = _mm512_set1_ps(1.f);
  // The last chunk's classes (all 16 when k is a multiple of 16).
  const __mmask16 tail = static_cast<__mmask16>((1u << (k - (NC - 1) * 16)) - 1);
  __m512 hn[NC], hl[NC], el[NC];
  static_for<0, NC>([&](auto j) FOCALAB_AVX512_LAMBDA {
    hn[j] = hl[j] = el[j] = _mm512_setzero_ps();
  });
  alignas(64) float buf[NC * 16];
  int64_t n = 0;
  // Chunk j's logits xv and losses a * b into its sums, lanes past k left out. A row of
  // negatives passes the loss's two factors, so that its multiply is fused into the adds
  // (measured 1.5-4 points of overhead less than adding the loss); a buffered loss comes as
  // loss * 1 (exact).
  const auto add = [&](auto j, __m512 xv, __m512 a, __m512 b) FOCALAB_AVX512_LAMBDA {
    const bool last = j == NC - 1;
    const __mmask16 hard = last ? _mm512_mask_cmp_ps_mask(tail, xv, th, _CMP_GE_OQ)
                                : _mm512_cmp_ps_mask(xv, th, _CMP_GE_OQ);
    const __mmask16 easy = last ? _mm512_kandn(hard, tail) : _mm512_knot(hard);
    hn[j] = _mm512_mask_add_ps(hn[j], hard, hn[j], one);
    hl[j] = _mm512_mask3_fmadd_ps(a, b, hl[j], hard);
    el[j] = _mm512_mask3_fmadd_ps(a, b, el[j], easy);
  };
  const auto load_x = [&](auto j, const float* x) FOCALAB_AVX512_LAMBDA {
    return j == NC - 1 ? _mm512_maskz_loadu_ps(tail, x + 16 * j) : _mm512_loadu_ps(x + 16 * j);
  };
  for (int64_t r = r0; r < r1; ++r) {
    float* g = grad + r * k;
    const int64_t label = labels[r];
    if (label == -2) {
      // Zero gradient, stored here: a call to memset would save and restore the sums' registers.
      static_for<0, NC>([&](auto j) FOCALAB_AVX512_LAMBDA {
        _mm512_mask_storeu_ps(g + 16 * j, j == NC - 1 ? tail : static_cast<__mmask16>(0xFFFF),
                              _mm512_setzero_ps());
      });
      continue;
    }
    ++n;
    const float* x = logits + r * k;
    if (label >= 0) {
      // A row with a positive (one in hundreds): the general chunks into a buffer, the positive
      // out of it to the positives' sums (its hard count is taken back at the end), the rest
      // into the sums.
      for_chunks16(k, label, [&](int64_t c0, auto full, auto has_pos) FOCALAB_AVX512_LAMBDA {
        _mm512_store_ps(buf + c0, row_chunk512<decltype(full)::value, decltype(has_pos)::value, kMod>(
                                      x, g, c0, k, label, v));
      });
      ps->take(label, buf, x);
      static_for<0, NC>([&](auto j) FOCALAB_AVX512_LAMBDA {
        add(j, load_x(j, x), _mm512_load_ps(buf + 16 * j), one);
      });
      continue;
    }
    static_for<0, NC>([&](auto j) FOCALAB_AVX512_LAMBDA {
      const __m512 xv = load_x(j, x);
      const VecOut512 o = focal_vec512<true, kMod>(xv, 0, v);
      add(j, xv, o.w, o.ce);
      if constexpr (j == NC - 1) {
        _mm512_mask_storeu_ps(g + 16 * j, tail, o.grad);
      } else {
        _mm512_storeu_ps(g + 16 * j, o.grad);
      }
    });
  }
  static_for<0, NC>([&](auto j) FOCALAB_AVX512_LAMBDA {
    float* const out[3] = {hard_n + 16 * j, hard_l + 16 * j, easy_l + 16 * j};
    const __m512 sums[3] = {hn[j], hl[j], el[j]};
    for (int i = 0; i < 3; ++i) _mm512_storeu_ps(out[i], _mm512_add_ps(_mm512_loadu_ps(out[i]), sums[i]));
  });
  return n;
}

// account_rows512 for the row's number of class chunks nc (1 to kMaxRegChunks).
template <Mod kMod>
int64_t account_rows512_nc(int64_t nc, const float* logits, const int64_t* labels, float* grad,
                           int64_t r0, int64_t r1, int64_t k, const FocalParams& p,
                           const PosSums* ps, float* hard_n, float* hard_l, float* easy_l) {
  static_assert(kMaxRegChunks == 6, "one case a chunk count");
  switch (nc) {  // REQUIRES: 1 <= nc <= kMaxRegChunks
    case 1: return account_rows512<kMod, 1>(logits, labels, grad, r0, r1, k, p, ps, hard_n, hard_l, easy_l);
    case 2: return account_rows512<kMod, 2>(logits, labels, grad, r0, r1, k, p, ps, hard_n, hard_l, easy_l);
    case 3: return account_rows512<kMod, 3>(logits, labels, grad, r0, r1, k, p, ps, hard_n, hard_l, easy_l);
    case 4: return account_rows512<kMod, 4>(logits, labels, grad, r0, r1, k, p, ps, hard_n, hard_l, easy_l);
    case 5: return account_rows512<kMod, 5>(logits, labels, grad, r0, r1, k, p, ps, hard_n, hard_l, easy_l);
    case 6: return account_rows512<kMod, 6>(logits, labels, grad, r0, r1, k, p, ps, hard_n, hard_l, easy_l);
  }
  std::abort();
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// The label form over rows [rb, re) with the AVX-512 code (k512) or the AVX2 code.
template <Mod kMod, bool k512>
FOCALAB_AVX2 double rows_simd(const float* logits, const int64_t* labels, float* grad,
                              int64_t rb, int64_t re, int64_t k, const FocalParams& p,
                              Accounting* acc) {
  constexpr auto loss_pass = k512 ? loss_rows512<kMod, false> : loss_rows<kMod, false>;
  constexpr auto store_pass = k512 ? loss_rows512<kMod, true> : loss_rows<kMod, true>;
  if (!acc) return loss_pass(logits, labels, grad, rb, re, k, p, nullptr, 0, nullptr, nullptr, nullptr);
  // With accounting, per class: hard negatives' count and loss, easy negatives' loss (hard:
  // x >= theta, the logit of hard_score, which equals sigmoid(x) >= hard_score), as float sums
  // flushed into the double totals every kFlush rows (counts exact: at most kFlush a class).
  // With AVX-512 and up to 96 classes the sums stay in registers through the loss pass
  // (account_rows512). Otherwise blocks of kBlock rows: first the loss pass, which writes each
  // element's loss to a small buffer (in L1) instead of adding it to a running sum; then an
  // accounting pass over the block, class chunk by class chunk, with the per-class sums in
  // registers. Ignored rows are left out of the block's row list. The positives are in PosSums;
  // their hard counts are taken back at the end (their lane in the buffer is zero).
  double total = 0;
  constexpr int64_t kBlock = 16, kFlush = 256;
  const int64_t kpad = (k + 15) / 16 * 16;
  std::vector<float> scratch(static_cast<size_t>(kBlock * kpad + 16));
  std::vector<float> easy_l(static_cast<size_t>(kpad)), hard_l(easy_l.size()), hard_n(easy_l.size());
  std::vector<double> pos_n(static_cast<size_t>(k)), pos_l(pos_n.size());
  std::vector<double> pos_hard_n(pos_n.size());
  std::vector<double> hard_cnt(pos_n.size());
  const PosSums ps{pos_n.data(), pos_l.data(), pos_hard_n.data(), acc->hard_theta};
  int64_t valid_rows = 0;
  // Raw pointers in locals: the vector stores below may alias anything, so the vectors' own
  // pointers would be reloaded after each of them.
  // 64-byte aligned, so that no 32-byte store straddles two cache lines.
  float* const sc_p = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / 4 % 16) % 16;
  float* const hn_p = hard_n.data();
  float* const hl_p = hard_l.data();
  float* const el_p = easy_l.data();
  const float* xr[kBlock];  // the block's counted rows
  const float theta_s = acc->hard_theta;
  const __m256 th = _mm256_set1_ps(theta_s);
  struct Sums {
    __m256 hn, hl, el;
  };
  const int64_t chunks16 = kpad / 16;
  const bool in_registers = k512 && chunks16 >= 1 && chunks16 <= kMaxRegChunks;
  for (int64_t f0 = rb; f0 < re; f0 += kFlush) {
    const int64_t f1 = std::min(re, f0 + kFlush);
    if (in_registers) {
      valid_rows += account_rows512_nc<kMod>(chunks16, logits, labels, grad, f0, f1, k, p, &ps,
                                             hn_p, hl_p, el_p);
    }
    for (int64_t b0 = f0; b0 < f1 && !in_registers; b0 += kBlock) {
      const int64_t b1 = std::min(f1, b0 + kBlock);
      int64_t n = 0;
      store_pass(logits, labels, grad, b0, b1, k, p, sc_p, kpad, xr, &ps, &n);
      valid_rows += n;
      // Accounting pass: two rows at a time into two sets of sums, so that no add waits on the
      // previous row's.
      if constexpr (k512) {
        account_block_avx512(xr, n == b1 - b0 ? logits + b0 * k : nullptr, n, k, sc_p, kpad,
                             theta_s, hn_p, hl_p, el_p);
        continue;
      }
      for (int64_t c0 = 0; c0 < k; c0 += 8) {
        const __m256i valid_i = _mm256_cmpgt_epi32(
            _mm256_set1_epi32(static_cast<int>(k)),
            _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                             _mm256_set1_epi32(static_cast<int>(c0))));
        const auto pass = [&](auto full) FOCALAB_AVX2_LAMBDA {
          const __m256 one = _mm256_set1_ps(1.f);
          Sums a{_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}, b = a;
          const auto add = [&](Sums& z, int64_t r) FOCALAB_AVX2_LAMBDA {
            const __m256 l = _mm256_loadu_ps(sc_p + r * kpad + c0);
            const float* x = xr[r] + c0;
            const __m256 xv = decltype(full)::value ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, valid_i);
            __m256 hard = _mm256_cmp_ps(xv, th, _CMP_GE_OQ);
            if constexpr (!decltype(full)::value) hard = _mm256_and_ps(hard, _mm256_castsi256_ps(valid_i));
            z.hn = _mm256_add_ps(z.hn, _mm256_and_ps(hard, one));
            z.hl = _mm256_add_ps(z.hl, _mm256_and_ps(hard, l));
            z.el = _mm256_add_ps(z.el, _mm256_andnot_ps(hard, l));
          };
          int64_t r = 0;
          for (; r + 1 < n; r += 2) {
            add(a, r);
            add(b, r + 1);
          }
          if (r < n) add(a, r);
          _mm256_storeu_ps(hn_p + c0, _mm256_add_ps(_mm256_loadu_ps(hn_p + c0), _mm256_add_ps(a.hn, b.hn)));
          _mm256_storeu_ps(hl_p + c0, _mm256_add_ps(_mm256_loadu_ps(hl_p + c0), _mm256_add_ps(a.hl, b.hl)));
          _mm256_storeu_ps(el_p + c0, _mm256_add_ps(_mm256_loadu_ps(el_p + c0), _mm256_add_ps(a.el, b.el)));
        };
        if (c0 + 8 <= k) {
          pass(std::true_type{});
        } else {
          pass(std::false_type{});
        }
      }
    }
    // Flush the float sums into the double totals.
    for (int64_t c = 0; c < k; ++c) {
      const auto i = static_cast<size_t>(c);
      acc->count[k + c] += hard_n[i];
      acc->loss_sum[k + c] += hard_l[i];
      acc->loss_sum[2 * k + c] += easy_l[i];
      total += static_cast<double>(hard_l[i]) + easy_l[i];
      hard_cnt[i] += hard_n[i];
    }
    std::fill(hard_n.begin(), hard_n.end(), 0.f);
    std::fill(hard_l.begin(), hard_l.end(), 0.f);
    std::fill(easy_l.begin(), easy_l.end(), 0.f);
  }
  // The positives, and their places in the hard counts taken back.
  for (int64_t c = 0; c < k; ++c) {
    const auto i = static_cast<size_t>(c);
    acc->count[c] += pos_n[i];
    acc->loss_sum[c] += pos_l[i];
    total += pos_l[i];
    acc->count[k + c] -= pos_hard_n[i];
    acc->count[2 * k + c] +=
        static_cast<double>(valid_rows) - pos_n[i] - (hard_cnt[i] - pos_hard_n[i]);
  }
  return total;
}

template <Mod kMod>
FOCALAB_AVX2 double dense_avx2(const float* logits, const float* targets, float* loss,
                               float* grad, int64_t begin, int64_t end, const FocalParams& p) {
  double total = 0;
  __m256 sum = _mm256_setzero_ps();
  int64_t i = begin, n = 0;
  const __m256 half = _mm256_set1_ps(0.5f);
  const VecParams v = vec_params(p);
  for (; i + 8 <= end; i += 8) {
    const __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(targets + i), half, _CMP_GT_OQ);
    const VecOut o = focal_vec<false, kMod>(_mm256_loadu_ps(logits + i), pos, v);
    _mm256_storeu_ps(grad + i, o.grad);
    if (loss) _mm256_storeu_ps(loss + i, o.loss);
    sum = _mm256_add_ps(sum, o.loss);
    if (++n == 512) {
      total += hsum(sum);
      sum = _mm256_setzero_ps();
      n = 0;
    }
  }
  total += hsum(sum);
  return total + dense_scalar(logits, targets, loss, grad, i, end, p);
}

// dense_avx2 with 16 lanes.
template <Mod kMod>
FOCALAB_AVX512 __attribute__((noinline)) double dense_avx512(
    const float* logits, const float* targets, float* loss, float* grad, int64_t begin, int64_t end,
    const FocalParams& p) {
  double total = 0;
  __m512 sum = _mm512_setzero_ps();
  int64_t i = begin, n = 0;
  const __m512 half = _mm512_set1_ps(0.5f);
  const VecParams512 v = vec_params512(p);
  for (; i + 16 <= end; i += 16) {
    const __mmask16 pos = _mm512_cmp_ps_mask(_mm512_loadu_ps(targets + i), half, _CMP_GT_OQ);
    const VecOut512 o = focal_vec512<false, kMod>(_mm512_loadu_ps(logits + i), pos, v);
    _mm512_storeu_ps(grad + i, o.grad);
    if (loss) _mm512_storeu_ps(loss + i, o.loss);
    sum = _mm512_add_ps(sum, o.loss);
    if (++n == 256) {
      total += hsum512(sum);
      sum = _mm512_setzero_ps();
      n = 0;
    }
  }
  total += hsum512(sum);
  return total + dense_scalar(logits, targets, loss, grad, i, end, p);
}

bool g_force_portable = false;
bool g_force_avx2 = false;

bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes && !g_force_avx2;
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes && !g_force_portable;
}
#endif  // FOCALAB_X86

}  // namespace

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

void force_portable_kernel(bool force) {
#ifdef FOCALAB_X86
  g_force_portable = force;
#else
  (void)force;
#endif
}

void force_avx2_kernel(bool force) {
#ifdef FOCALAB_X86
  g_force_avx2 = force;
#else
  (void)force;
#endif
}

bool kernel_avx512() {
#ifdef FOCALAB_X86
  return has_avx2() && has_avx512();
#else
  return false;
#endif
}

bool focal_kernel_vectorized() {
#ifdef FOCALAB_X86
  return has_avx2();
#else
  return false;
#endif
}

double focal_rows(const float* logits, const int64_t* labels, float* grad, int64_t row_begin,
                  int64_t row_end, int64_t num_classes, const FocalParams& p, Accounting* acc) {
  if (num_classes <= 0) return 0;  // nothing to compute (and an empty tensor's data may be null)
#ifdef FOCALAB_X86
  if (has_avx2()) {
    const bool avx512 = has_avx512();
    const auto run = [&](auto mod) {
      constexpr Mod kMod = decltype(mod)::value;
      return avx512 ? rows_simd<kMod, true>(logits, labels, grad, row_begin, row_end, num_classes, p, acc)
                    : rows_simd<kMod, false>(logits, labels, grad, row_begin, row_end, num_classes, p, acc);
    };
    switch (mod_kind(p.gamma)) {
      case kModOne: return run(std::integral_constant<Mod, kModOne>{});
      case kModQ: return run(std::integral_constant<Mod, kModQ>{});
      case kModQ2: return run(std::integral_constant<Mod, kModQ2>{});
      case kModPow: return run(std::integral_constant<Mod, kModPow>{});
    }
  }
#endif
  return rows_scalar(logits, labels, grad, row_begin, row_end, num_classes, p, acc);
}

double focal_dense(const float* logits, const float* targets, float* loss, float* grad,
                   int64_t begin, int64_t end, const FocalParams& p) {
#ifdef FOCALAB_X86
  if (has_avx2()) {
    const bool avx512 = has_avx512();
    const auto run = [&](auto mod) {
      constexpr Mod kMod = decltype(mod)::value;
      return avx512 ? dense_avx512<kMod>(logits, targets, loss, grad, begin, end, p)
                    : dense_avx2<kMod>(logits, targets, loss, grad, begin, end, p);
    };
    switch (mod_kind(p.gamma)) {
      case kModOne: return run(std::integral_constant<Mod, kModOne>{});
      case kModQ: return run(std::integral_constant<Mod, kModQ>{});
      case kModQ2: return run(std::integral_constant<Mod, kModQ2>{});
      case kModPow: return run(std::integral_constant<Mod, kModPow>{});
    }
  }
#endif
  return dense_scalar(logits, targets, loss, grad, begin, end, p);
}

}  // namespace focalab::losses::kernel
