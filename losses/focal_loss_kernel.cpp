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
// AVX2 + FMA path. exp and log are the Cephes single-precision polynomials (as in
// avx_mathfun), accurate to about 1 ulp over the ranges used here.

#define FOCALAB_AVX2 __attribute__((target("avx2,fma")))

FOCALAB_AVX2 inline __m256 exp256(__m256 x) {
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

// Natural log for x > 0.
FOCALAB_AVX2 inline __m256 log256(__m256 x) {
  x = _mm256_max_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x00800000)));  // min normal
  __m256i imm0 = _mm256_srli_epi32(_mm256_castps_si256(x), 23);
  x = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(~0x7f800000)));
  x = _mm256_or_ps(x, _mm256_set1_ps(0.5f));
  imm0 = _mm256_sub_epi32(imm0, _mm256_set1_epi32(127));
  __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(imm0), _mm256_set1_ps(1.f));
  const __m256 mask = _mm256_cmp_ps(x, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OS);
  const __m256 tmp = _mm256_and_ps(x, mask);
  x = _mm256_sub_ps(x, _mm256_set1_ps(1.f));
  e = _mm256_sub_ps(e, _mm256_and_ps(_mm256_set1_ps(1.f), mask));
  x = _mm256_add_ps(x, tmp);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = _mm256_set1_ps(7.0376836292E-2f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.1514610310E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.1676998740E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.2420140846E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.4249322787E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.6668057665E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(2.0000714765E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-2.4999993993E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(3.3333331174E-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, x), z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
  x = _mm256_add_ps(x, y);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), x);
}

struct VecOut {
  __m256 loss, grad, q;
};

// pos: all-ones lanes where the target is 1.
FOCALAB_AVX2 inline VecOut focal_vec(__m256 x, __m256 pos, const FocalParams& p) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 z = _mm256_blendv_ps(_mm256_xor_ps(x, sign), x, pos);  // pos ? x : -x
  const __m256 a = _mm256_andnot_ps(sign, z);                          // |z|
  const __m256 e = exp256(_mm256_xor_ps(a, sign));                     // exp(-|z|) in (0, 1]
  // log1p(e) with full relative precision for tiny e: log(u) * e / (u - 1), u = 1 + e.
  const __m256 u = _mm256_add_ps(one, e);
  const __m256 d = _mm256_sub_ps(u, one);
  const __m256 d_zero = _mm256_cmp_ps(d, zero, _CMP_EQ_OQ);
  const __m256 ratio = _mm256_div_ps(e, _mm256_blendv_ps(d, one, d_zero));
  const __m256 l = _mm256_blendv_ps(_mm256_mul_ps(log256(u), ratio), e, d_zero);
  const __m256 ce = _mm256_add_ps(_mm256_max_ps(_mm256_xor_ps(z, sign), zero), l);
  const __m256 s = _mm256_div_ps(one, u);
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
  return {_mm256_mul_ps(w, ce), _mm256_blendv_ps(g, _mm256_xor_ps(g, sign), pos), q};
}

FOCALAB_AVX2 inline double hsum(__m256 v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  double s = 0;
  for (float f : t) s += f;
  return s;
}

FOCALAB_AVX2 double rows_avx2(const float* logits, const int64_t* labels, float* grad,
                              int64_t rb, int64_t re, int64_t k, const FocalParams& p,
                              Accounting* acc) {
  const int64_t kpad = (k + 7) / 8 * 8;
  // Float accumulators for up to kFlush rows, then flushed into the double totals.
  constexpr int64_t kFlush = 64;
  std::vector<float> fc(acc ? static_cast<size_t>(3 * kpad) : 0, 0.f);
  std::vector<float> fl(acc ? static_cast<size_t>(3 * kpad) : 0, 0.f);
  auto flush = [&]() {
    for (int cat = 0; cat < 3; ++cat) {
      for (int64_t c = 0; c < k; ++c) {
        acc->count[cat * k + c] += fc[static_cast<size_t>(cat * kpad + c)];
        acc->loss_sum[cat * k + c] += fl[static_cast<size_t>(cat * kpad + c)];
      }
    }
    std::fill(fc.begin(), fc.end(), 0.f);
    std::fill(fl.begin(), fl.end(), 0.f);
  };
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256 hard_score = _mm256_set1_ps(acc ? acc->hard_score : 0.f);
  double total = 0;
  __m256 sum = _mm256_setzero_ps();
  int64_t pending = 0;
  for (int64_t r = rb; r < re; ++r) {
    const float* x = logits + r * k;
    float* g = grad + r * k;
    const int64_t label = labels[r];
    if (label == -2) {
      std::memset(g, 0, sizeof(float) * static_cast<size_t>(k));
      continue;
    }
    const __m256i lab = _mm256_set1_epi32(static_cast<int>(label));
    for (int64_t c0 = 0; c0 < k; c0 += 8) {
      const __m256i cls = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(c0)));
      const __m256i valid_i = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)), cls);
      const bool full = c0 + 8 <= k;
      const __m256 xv = full ? _mm256_loadu_ps(x + c0) : _mm256_maskload_ps(x + c0, valid_i);
      const __m256 pos = _mm256_castsi256_ps(_mm256_cmpeq_epi32(cls, lab));
      const VecOut o = focal_vec(xv, pos, p);
      if (full) {
        _mm256_storeu_ps(g + c0, o.grad);
      } else {
        _mm256_maskstore_ps(g + c0, valid_i, o.grad);
      }
      const __m256 valid = _mm256_castsi256_ps(valid_i);
      const __m256 loss = _mm256_and_ps(o.loss, valid);
      sum = _mm256_add_ps(sum, loss);
      if (acc) {
        const __m256 hard = _mm256_and_ps(
            _mm256_andnot_ps(pos, _mm256_cmp_ps(o.q, hard_score, _CMP_GE_OQ)), valid);
        const __m256 easy = _mm256_andnot_ps(_mm256_or_ps(pos, hard), valid);
        float* c_pos = fc.data() + c0;
        float* l_pos = fl.data() + c0;
        const __m256 cats[3] = {pos, hard, easy};
        for (int cat = 0; cat < 3; ++cat) {
          float* cc = c_pos + cat * kpad;
          float* ll = l_pos + cat * kpad;
          _mm256_storeu_ps(cc, _mm256_add_ps(_mm256_loadu_ps(cc), _mm256_and_ps(cats[cat], one)));
          _mm256_storeu_ps(ll, _mm256_add_ps(_mm256_loadu_ps(ll), _mm256_and_ps(cats[cat], loss)));
        }
      }
    }
    if (++pending == kFlush) {
      total += hsum(sum);
      sum = _mm256_setzero_ps();
      if (acc) flush();
      pending = 0;
    }
  }
  total += hsum(sum);
  if (acc) flush();
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

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#endif  // FOCALAB_X86

}  // namespace

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
