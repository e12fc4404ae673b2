// The AVX-512 path: the formulas of losses/focal_formula.h 16 lanes at a time, as avx2.cpp's 8
// (the same polynomials); exp scales by 2^n with SCALEF, the reciprocal starts from RCP14,
// positive lanes and the class tail are mask registers. With up to kMaxRegChunks x 16 classes
// the accounting's per-class sums stay in registers through the loss pass (account_rows512).
// Every function carries its target attribute (no file-wide -mavx512f), so that nothing built
// here can run on a CPU without it.

#include "losses/kernel/paths.h"

#ifdef FOCALAB_KERNEL_X86

#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "losses/kernel/accounting.h"

namespace focalab::losses::kernel::detail {

namespace {

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

// exp(x) for x <= 0, as avx2.cpp's exp256: the same reduction and polynomial, 2^n applied with SCALEF, and
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

// The accounting pass over one block (accounting.h), for more classes than account_rows512
// keeps in registers: 16 classes a vector, the hard test in a mask register (masked adds).
// xr: the block's counted rows' logits; scratch: their losses, one row of kpad floats each, in
// the same order. x0: the block's first row when every row of it is counted (the rows are then
// k floats apart and xr is not read), else null.
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

// The dense form, 16 lanes.
template <Mod kMod>
FOCALAB_AVX512 __attribute__((noinline)) double dense_rows(
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
  return total + dense_portable(logits, targets, loss, grad, i, end, p);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

template <Mod kMod>
struct Avx512 {
  static constexpr int64_t kRegisterChunks = kMaxRegChunks;
  static void store_pass(const float* logits, const int64_t* labels, float* grad, int64_t r0,
                         int64_t r1, int64_t k, const FocalParams& p, float* scratch, int64_t kpad,
                         const float** xr, const PosSums* ps, int64_t* counted) {
    loss_rows512<kMod, true>(logits, labels, grad, r0, r1, k, p, scratch, kpad, xr, ps, counted);
  }
  static void account_block(const float* const* xr, const float* x0, int64_t n, int64_t k,
                            const float* scratch, int64_t kpad, float theta, float* hard_n,
                            float* hard_l, float* easy_l) {
    account_block_avx512(xr, x0, n, k, scratch, kpad, theta, hard_n, hard_l, easy_l);
  }
  static int64_t account_in_registers(int64_t chunks, const float* logits, const int64_t* labels,
                                      float* grad, int64_t r0, int64_t r1, int64_t k,
                                      const FocalParams& p, const PosSums* ps, float* hard_n,
                                      float* hard_l, float* easy_l) {
    return account_rows512_nc<kMod>(chunks, logits, labels, grad, r0, r1, k, p, ps, hard_n,
                                    hard_l, easy_l);
  }
};

template <Mod kMod>
double rows(const float* logits, const int64_t* labels, float* grad, int64_t rb, int64_t re,
            int64_t k, const FocalParams& p, Accounting* acc) {
  if (!acc) {
    return loss_rows512<kMod, false>(logits, labels, grad, rb, re, k, p, nullptr, 0, nullptr,
                                     nullptr, nullptr);
  }
  return rows_accounted<Avx512<kMod>>(logits, labels, grad, rb, re, k, p, acc);
}

}  // namespace

double rows_avx512(const float* logits, const int64_t* labels, float* grad, int64_t rb,
                   int64_t re, int64_t k, const FocalParams& p, Accounting* acc) {
  return with_mod(p.gamma, [&](auto mod) {
    return rows<decltype(mod)::value>(logits, labels, grad, rb, re, k, p, acc);
  });
}

double dense_avx512(const float* logits, const float* targets, float* loss, float* grad,
                    int64_t begin, int64_t end, const FocalParams& p) {
  return with_mod(p.gamma, [&](auto mod) {
    return dense_rows<decltype(mod)::value>(logits, targets, loss, grad, begin, end, p);
  });
}

}  // namespace focalab::losses::kernel::detail

#endif  // FOCALAB_KERNEL_X86
