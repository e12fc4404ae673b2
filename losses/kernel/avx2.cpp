// The AVX2 + FMA path: the formulas of losses/focal_formula.h 8 lanes at a time. exp is the
// Cephes single-precision polynomial (as in avx_mathfun); log1p of e in (0, 1] is an atanh
// series; both accurate to about 1 ulp over the ranges used here. Every function carries its
// target attribute (no file-wide -mavx2), so that nothing built here can run on a CPU without it.

#include "losses/kernel/paths.h"

#ifdef FOCALAB_KERNEL_X86

#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "losses/kernel/accounting.h"

namespace focalab::losses::kernel::detail {

namespace {

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

// The accounting pass over one block (accounting.h): two rows at a time into two sets of sums,
// so that no add waits on the previous row's; 8 classes a vector.
FOCALAB_AVX2 __attribute__((noinline)) void account_block_avx2(
    const float* const* xr, const float* /*x0*/, int64_t n, int64_t k, const float* sc_p,
    int64_t kpad, float theta, float* hn_p, float* hl_p, float* el_p) {
  struct Sums {
    __m256 hn, hl, el;
  };
  const __m256 th = _mm256_set1_ps(theta);
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

template <Mod kMod>
FOCALAB_AVX2 double dense_rows(const float* logits, const float* targets, float* loss,
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
  return total + dense_portable(logits, targets, loss, grad, i, end, p);
}

template <Mod kMod>
struct Avx2 {
  static constexpr int64_t kRegisterChunks = 0;
  static void store_pass(const float* logits, const int64_t* labels, float* grad, int64_t r0,
                         int64_t r1, int64_t k, const FocalParams& p, float* scratch, int64_t kpad,
                         const float** xr, const PosSums* ps, int64_t* counted) {
    loss_rows<kMod, true>(logits, labels, grad, r0, r1, k, p, scratch, kpad, xr, ps, counted);
  }
  static void account_block(const float* const* xr, const float* x0, int64_t n, int64_t k,
                            const float* scratch, int64_t kpad, float theta, float* hard_n,
                            float* hard_l, float* easy_l) {
    account_block_avx2(xr, x0, n, k, scratch, kpad, theta, hard_n, hard_l, easy_l);
  }
  static int64_t account_in_registers(int64_t, const float*, const int64_t*, float*, int64_t,
                                      int64_t, int64_t, const FocalParams&, const PosSums*,
                                      float*, float*, float*) {
    return 0;  // never called: kRegisterChunks is 0
  }
};

template <Mod kMod>
double rows(const float* logits, const int64_t* labels, float* grad, int64_t rb, int64_t re,
            int64_t k, const FocalParams& p, Accounting* acc) {
  if (!acc) {
    return loss_rows<kMod, false>(logits, labels, grad, rb, re, k, p, nullptr, 0, nullptr,
                                  nullptr, nullptr);
  }
  return rows_accounted<Avx2<kMod>>(logits, labels, grad, rb, re, k, p, acc);
}

}  // namespace

double rows_avx2(const float* logits, const int64_t* labels, float* grad, int64_t rb, int64_t re,
                 int64_t k, const FocalParams& p, Accounting* acc) {
  return with_mod(p.gamma, [&](auto mod) {
    return rows<decltype(mod)::value>(logits, labels, grad, rb, re, k, p, acc);
  });
}

double dense_avx2(const float* logits, const float* targets, float* loss, float* grad,
                  int64_t begin, int64_t end, const FocalParams& p) {
  return with_mod(p.gamma, [&](auto mod) {
    return dense_rows<decltype(mod)::value>(logits, targets, loss, grad, begin, end, p);
  });
}

}  // namespace focalab::losses::kernel::detail

#endif  // FOCALAB_KERNEL_X86
