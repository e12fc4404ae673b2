// The portable path: the formulas of losses/focal_formula.h one element at a time (any CPU;
// also the tail of the vectorized dense form).

#include <cstring>

#include "losses/focal_formula.h"
#include "losses/kernel/paths.h"

namespace focalab::losses::kernel::detail {

namespace {

struct Elem {
  float loss, grad;
};

inline Elem focal_elem(float x, bool pos, const FocalParams& p) {
  const FocalTerms<float> t = focal_terms(pos ? x : -x);
  float mod = 1.f;  // (1 - p_t)^gamma
  if (p.gamma == 1.f) {
    mod = t.q;
  } else if (p.gamma == 2.f) {
    mod = t.q * t.q;
  } else if (p.gamma != 0.f) {
    mod = std::exp(p.gamma * t.log_q);
  }
  const float at = p.use_alpha ? (pos ? p.alpha : 1.f - p.alpha) : 1.f;
  const float w = at * mod * p.scale;
  const float g = w * (t.q + p.gamma * t.pt * t.ce);
  return {w * t.ce, pos ? -g : g};
}

}  // namespace

double rows_portable(const float* logits, const int64_t* labels, float* grad, int64_t rb,
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

double dense_portable(const float* logits, const float* targets, float* loss, float* grad,
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

}  // namespace focalab::losses::kernel::detail
