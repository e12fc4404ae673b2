#include "losses/focal_loss_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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
  float loss, grad, q;  // q = 1 - p_t (for a negative: sigmoid(x))
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
  return {w * ce, pos ? -g : g, q};
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
        const int cat = pos ? 0 : (e.q >= acc->hard_score ? 1 : 2);
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

FOCALAB_AVX2_INLINE __m256 exp256(__m256 x) {
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
  __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
  y = _mm256_fmadd_ps(y, z, x);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.f));
  __m256i n = _mm256_cvttps_epi32(fx);
  n = _mm256_add_epi32(n, _mm256_set1_epi32(127));
  n = _mm256_slli_epi32(n, 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

struct VecOut {
  __m256 loss, grad, q;
};

// pos: all-ones lanes where the target is 1.
FOCALAB_AVX2_INLINE VecOut focal_vec(__m256 x, __m256 pos, const FocalParams& p) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 z = _mm256_blendv_ps(_mm256_xor_ps(x, sign), x, pos);  // pos ? x : -x
  const __m256 a = _mm256_andnot_ps(sign, z);                          // |z|
  const __m256 e = exp256(_mm256_xor_ps(a, sign));                     // exp(-|z|) in (0, 1]
  // s = 1 / u, u = 1 + e in [1, 2]: reciprocal estimate refined by one Newton step (~1 ulp).
  const __m256 u = _mm256_add_ps(one, e);
  __m256 s = _mm256_rcp_ps(u);
  s = _mm256_mul_ps(s, _mm256_fnmadd_ps(u, s, _mm256_set1_ps(2.f)));
  // log1p(e) = 2 atanh(t), t = e / (2 + e) in [0, 1/3]: 2 t (1 + t^2/3 + t^4/5 + ... + t^12/13),
  // truncation error < (1/9)^7 / 15 relative; no cancellation for tiny e.
  const __m256 v = _mm256_add_ps(u, one);
  __m256 rv = _mm256_rcp_ps(v);
  rv = _mm256_mul_ps(rv, _mm256_fnmadd_ps(v, rv, _mm256_set1_ps(2.f)));
  const __m256 t = _mm256_mul_ps(e, rv);
  const __m256 t2 = _mm256_mul_ps(t, t);
  __m256 series = _mm256_set1_ps(1.f / 13);
  series = _mm256_fmadd_ps(series, t2, _mm256_set1_ps(1.f / 11));
  series = _mm256_fmadd_ps(series, t2, _mm256_set1_ps(1.f / 9));
  series = _mm256_fmadd_ps(series, t2, _mm256_set1_ps(1.f / 7));
  series = _mm256_fmadd_ps(series, t2, _mm256_set1_ps(1.f / 5));
  series = _mm256_fmadd_ps(series, t2, _mm256_set1_ps(1.f / 3));
  series = _mm256_fmadd_ps(series, t2, one);
  const __m256 l = _mm256_mul_ps(_mm256_add_ps(t, t), series);
  const __m256 ce = _mm256_add_ps(_mm256_max_ps(_mm256_xor_ps(z, sign), zero), l);
  const __m256 z_nonneg = _mm256_cmp_ps(z, zero, _CMP_GE_OQ);
  const __m256 es = _mm256_mul_ps(e, s);
  const __m256 pt = _mm256_blendv_ps(es, s, z_nonneg);
  const __m256 q = _mm256_blendv_ps(s, es, z_nonneg);
  __m256 mod;
  if (p.gamma == 0.f) {
    mod = one;
  } else if (p.gamma == 1.f) {
    mod = q;
  } else if (p.gamma == 2.f) {
    mod = _mm256_mul_ps(q, q);
  } else {
    const __m256 log_q = _mm256_sub_ps(_mm256_xor_ps(_mm256_max_ps(z, zero), sign), l);
    mod = exp256(_mm256_mul_ps(_mm256_set1_ps(p.gamma), log_q));
  }
  __m256 w = _mm256_mul_ps(mod, _mm256_set1_ps(p.scale));
  if (p.use_alpha) {
    w = _mm256_mul_ps(w, _mm256_blendv_ps(_mm256_set1_ps(1.f - p.alpha), _mm256_set1_ps(p.alpha), pos));
  }
  const __m256 g = _mm256_mul_ps(w, _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(p.gamma), pt), ce, q));
  // A NaN logit gives NaN loss and gradient, as in the portable path (the clamps inside exp256
  // would otherwise turn it into a finite value).
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  return {_mm256_or_ps(_mm256_mul_ps(w, ce), nan),
          _mm256_or_ps(_mm256_blendv_ps(g, _mm256_xor_ps(g, sign), pos), nan), q};
}

FOCALAB_AVX2_INLINE double hsum(__m256 v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  double s = 0;
  for (float f : t) s += f;
  return s;
}

// One vector of 8 classes of one row. Writes the gradient; returns the loss (invalid lanes 0).
struct RowChunk {
  __m256 loss, pos, hard, valid;
};

template <bool kFull>
FOCALAB_AVX2_INLINE RowChunk row_chunk(const float* x, float* g, int64_t c0, int64_t k,
                                       __m256i lab, __m256 hard_score, const FocalParams& p) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i cls = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(c0)));
  constexpr bool full = kFull;
  const __m256i valid_i =
      full ? _mm256_set1_epi32(-1) : _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)), cls);
  const __m256 xv = full ? _mm256_loadu_ps(x + c0) : _mm256_maskload_ps(x + c0, valid_i);
  const __m256 pos = _mm256_castsi256_ps(_mm256_cmpeq_epi32(cls, lab));
  const VecOut o = focal_vec(xv, pos, p);
  if constexpr (full) {
    _mm256_storeu_ps(g + c0, o.grad);
    const __m256 hard = _mm256_andnot_ps(pos, _mm256_cmp_ps(o.q, hard_score, _CMP_GE_OQ));
    return {o.loss, pos, hard, _mm256_castsi256_ps(valid_i)};
  } else {
    _mm256_maskstore_ps(g + c0, valid_i, o.grad);
    const __m256 valid = _mm256_castsi256_ps(valid_i);
    const __m256 hard = _mm256_and_ps(
        _mm256_andnot_ps(pos, _mm256_cmp_ps(o.q, hard_score, _CMP_GE_OQ)), valid);
    return {_mm256_and_ps(o.loss, valid), pos, hard, valid};
  }
}

// One chunk with accounting: adds the chunk's hard-negative count and loss and easy-negative
// loss to the per-class accumulators and a positive's loss to pos_l. Returns sum + the loss.
template <bool kFull>
FOCALAB_AVX2_INLINE __m256 accounted_chunk(const float* x, float* g, int64_t c0, int64_t k,
                                           int64_t label, __m256i lab, __m256 hard_score,
                                           const FocalParams& p, int32_t* hard_n, float* hard_l,
                                           float* easy_l, double* pos_l, __m256 sum) {
  const RowChunk c = row_chunk<kFull>(x, g, c0, k, lab, hard_score, p);
  __m256i* hn = reinterpret_cast<__m256i*>(hard_n + c0);
  // Mask lanes are -1: subtracting counts them.
  _mm256_storeu_si256(hn, _mm256_sub_epi32(_mm256_loadu_si256(hn), _mm256_castps_si256(c.hard)));
  _mm256_storeu_ps(hard_l + c0, _mm256_add_ps(_mm256_loadu_ps(hard_l + c0),
                                              _mm256_and_ps(c.hard, c.loss)));
  // Easy: neither positive nor hard (invalid lanes carry zero loss already).
  _mm256_storeu_ps(easy_l + c0, _mm256_add_ps(_mm256_loadu_ps(easy_l + c0),
                                              _mm256_andnot_ps(_mm256_or_ps(c.pos, c.hard), c.loss)));
  if (label >= c0 && label < c0 + 8) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, c.loss);
    pos_l[label] += lanes[label - c0];
  }
  return _mm256_add_ps(sum, c.loss);
}

FOCALAB_AVX2 double rows_avx2(const float* logits, const int64_t* labels, float* grad,
                              int64_t rb, int64_t re, int64_t k, const FocalParams& p,
                              Accounting* acc) {
  const __m256 hard_score = _mm256_set1_ps(acc ? acc->hard_score : 0.f);
  double total = 0;
  if (!acc) {
    // Row-major: stream through memory once.
    __m256 sum = _mm256_setzero_ps();
    int64_t pending = 0;
    for (int64_t r = rb; r < re; ++r) {
      float* g = grad + r * k;
      const int64_t label = labels[r];
      if (label == -2) {
        std::memset(g, 0, sizeof(float) * static_cast<size_t>(k));
        continue;
      }
      const __m256i lab = _mm256_set1_epi32(static_cast<int>(label));
      int64_t c0 = 0;
      for (; c0 + 8 <= k; c0 += 8) {
        sum = _mm256_add_ps(sum, row_chunk<true>(logits + r * k, g, c0, k, lab, hard_score, p).loss);
      }
      if (c0 < k) {
        sum = _mm256_add_ps(sum, row_chunk<false>(logits + r * k, g, c0, k, lab, hard_score, p).loss);
      }
      if (++pending == 64) {
        total += hsum(sum);
        sum = _mm256_setzero_ps();
        pending = 0;
      }
    }
    return total + hsum(sum);
  }
  // With accounting, still row-major. Per class, accumulators (flushed into the double totals
  // every kFlush rows) hold the hard-negative count and loss and the easy-negative loss; a
  // positive's loss is taken from its lane; the counts of positives and easy negatives follow
  // exactly from the labels: easy = valid rows - positives - hard.
  constexpr int64_t kFlush = 64;
  const int64_t kpad = (k + 7) / 8 * 8;
  std::vector<float> hard_l(static_cast<size_t>(kpad)), easy_l(hard_l.size());
  std::vector<int32_t> hard_n(hard_l.size());
  std::vector<double> pos_n(static_cast<size_t>(k)), pos_l(pos_n.size());
  std::vector<double> hard_cnt(static_cast<size_t>(k));  // this range's hard negatives per class
  int64_t valid_rows = 0;
  for (int64_t b0 = rb; b0 < re; b0 += kFlush) {
    __m256 sum = _mm256_setzero_ps();
    for (int64_t r = b0; r < std::min(re, b0 + kFlush); ++r) {
      float* g = grad + r * k;
      const int64_t label = labels[r];
      if (label == -2) {
        std::memset(g, 0, sizeof(float) * static_cast<size_t>(k));
        continue;
      }
      ++valid_rows;
      const __m256i lab = _mm256_set1_epi32(static_cast<int>(label));
      const float* x = logits + r * k;
      pos_n[static_cast<size_t>(label < 0 ? 0 : label)] += label >= 0 ? 1 : 0;
      int64_t c0 = 0;
      for (; c0 + 8 <= k; c0 += 8) {
        sum = accounted_chunk<true>(x, g, c0, k, label, lab, hard_score, p, hard_n.data(),
                                    hard_l.data(), easy_l.data(), pos_l.data(), sum);
      }
      if (c0 < k) {
        sum = accounted_chunk<false>(x, g, c0, k, label, lab, hard_score, p, hard_n.data(),
                                     hard_l.data(), easy_l.data(), pos_l.data(), sum);
      }
    }
    // Flush the block's sums into the double totals.
    total += hsum(sum);
    for (int64_t c = 0; c < k; ++c) {
      const auto i = static_cast<size_t>(c);
      acc->count[k + c] += hard_n[i];
      acc->loss_sum[k + c] += hard_l[i];
      acc->loss_sum[2 * k + c] += easy_l[i];
      hard_cnt[i] += hard_n[i];
    }
    std::fill(hard_n.begin(), hard_n.end(), 0);
    std::fill(hard_l.begin(), hard_l.end(), 0.f);
    std::fill(easy_l.begin(), easy_l.end(), 0.f);
  }
  for (int64_t c = 0; c < k; ++c) {
    const auto i = static_cast<size_t>(c);
    acc->count[c] += pos_n[i];
    acc->loss_sum[c] += pos_l[i];
    acc->count[2 * k + c] += static_cast<double>(valid_rows) - pos_n[i] - hard_cnt[i];
  }
  return total;
}

FOCALAB_AVX2 double dense_avx2(const float* logits, const float* targets, float* loss,
                               float* grad, int64_t begin, int64_t end, const FocalParams& p) {
  double total = 0;
  __m256 sum = _mm256_setzero_ps();
  int64_t i = begin, n = 0;
  const __m256 half = _mm256_set1_ps(0.5f);
  for (; i + 8 <= end; i += 8) {
    const __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(targets + i), half, _CMP_GT_OQ);
    const VecOut o = focal_vec(_mm256_loadu_ps(logits + i), pos, p);
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

bool g_force_portable = false;

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes && !g_force_portable;
}
#endif  // FOCALAB_X86

}  // namespace

void force_portable_kernel(bool force) {
#ifdef FOCALAB_X86
  g_force_portable = force;
#else
  (void)force;
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
#ifdef FOCALAB_X86
  if (has_avx2()) return rows_avx2(logits, labels, grad, row_begin, row_end, num_classes, p, acc);
#endif
  return rows_scalar(logits, labels, grad, row_begin, row_end, num_classes, p, acc);
}

double focal_dense(const float* logits, const float* targets, float* loss, float* grad,
                   int64_t begin, int64_t end, const FocalParams& p) {
#ifdef FOCALAB_X86
  if (has_avx2()) return dense_avx2(logits, targets, loss, grad, begin, end, p);
#endif
  return dense_scalar(logits, targets, loss, grad, begin, end, p);
}

}  // namespace focalab::losses::kernel
