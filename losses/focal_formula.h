#pragma once
// The focal loss's terms, written once: for one binary example (float) in the portable kernel,
// and element-wise over tensors (torch::Tensor, any device and float dtype) in the composed loss
// and the loss-CDF analysis. The vectorized kernels (losses/kernel/avx2.cpp, avx512.cpp) compute
// the same terms with intrinsics, and the tests hold all of them to each other and to
// torchvision's formula.
//
// With z = x for target 1 and -x for target 0 (so p_t = sigmoid(z)) and L = log(1 + exp(-|z|)):
//   ce = -log(p_t) = max(-z, 0) + L         log(1 - p_t) = -max(z, 0) - L
//   FL = alpha_t (1 - p_t)^gamma ce
//   dFL/dz = -alpha_t (1 - p_t)^gamma ((1 - p_t) - gamma p_t ce)   (Appendix B; dz/dx = +-1)
// Every term is finite for any finite z; none subtracts nearly equal numbers.

#include <algorithm>
#include <cmath>

namespace focalab::losses {

template <class T>
struct FocalTerms {
  T ce;     // -log(p_t)
  T pt;     // p_t
  T q;      // 1 - p_t
  T log_q;  // log(1 - p_t)
};

namespace formula {
// The scalar forms of the element-wise operations the tensor form finds in ATen (at::relu,
// at::where) by argument-dependent lookup.
inline float relu(float v) { return std::max(v, 0.f); }
inline double relu(double v) { return std::max(v, 0.0); }
inline float where(bool c, float a, float b) { return c ? a : b; }
inline double where(bool c, double a, double b) { return c ? a : b; }
}  // namespace formula

// The terms of the examples with signed logits z (T: float, double or torch::Tensor).
template <class T>
FocalTerms<T> focal_terms(const T& z) {
  using formula::relu;
  using formula::where;
  using std::abs;
  using std::exp;
  using std::log1p;
  const T e = exp(-abs(z));  // in (0, 1]
  const T l = log1p(e);
  const T s = 1 / (1 + e);   // sigmoid(|z|)
  const auto nonneg = z >= 0;
  const T es = e * s;        // sigmoid(-|z|)
  return {relu(-z) + l, where(nonneg, s, es), where(nonneg, es, s), -relu(z) - l};
}

}  // namespace focalab::losses
