#include "reports/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace focalab::reports {

namespace {

// The continued fraction of I_x(a, b) (evaluated by the modified Lentz method), which converges
// fast for x < (a + 1) / (a + b + 2).
double beta_fraction(double x, double a, double b) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-15;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double f = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    // even step: m (b - m) x / ((a + 2m - 1)(a + 2m))
    double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    f *= d * c;
    // odd step: -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double step = d * c;
    f *= step;
    if (std::fabs(step - 1.0) < kEps) break;
  }
  return f;
}

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Sample variance (n - 1).
double variance_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return ss / static_cast<double>(v.size() - 1);
}

}  // namespace

double incomplete_beta(double x, double a, double b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                           a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * beta_fraction(x, a, b) / a;
  // the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges faster
  return 1.0 - std::exp(log_front) * beta_fraction(1.0 - x, b, a) / b;
}

double student_t_cdf(double t, double df) {
  // P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2)
  const double tail = 0.5 * incomplete_beta(df / (df + t * t), 0.5 * df, 0.5);
  return t >= 0 ? 1.0 - tail : tail;
}

double student_t_quantile(double p, double df) {
  if (p == 0.5) return 0;
  if (p < 0.5) return -student_t_quantile(1.0 - p, df);
  // The CDF is increasing: bisection on [0, hi], hi doubled until it brackets p.
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, df) < p && hi < 1e300) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * std::max(1.0, hi); ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::optional<DiffInterval> mean_interval(const std::vector<double>& v, double level) {
  if (v.size() < 2) return std::nullopt;
  DiffInterval out;
  out.method = "t";
  out.n = static_cast<int64_t>(v.size());
  out.df = static_cast<double>(v.size() - 1);
  out.diff = mean_of(v);
  const double half = student_t_quantile(0.5 + level / 2, out.df) *
                      std::sqrt(variance_of(v) / static_cast<double>(v.size()));
  out.lo = out.diff - half;
  out.hi = out.diff + half;
  return out;
}

std::optional<DiffInterval> paired_interval(const std::vector<double>& a,
                                            const std::vector<double>& b, double level) {
  if (a.size() != b.size()) return std::nullopt;
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  auto out = mean_interval(d, level);  // of the differences
  if (out) out->method = "paired";
  return out;
}

std::optional<DiffInterval> seed_interval(const std::map<int64_t, double>& a,
                                          const std::map<int64_t, double>& b, double level) {
  std::vector<double> va, vb;
  for (const auto& kv : a) va.push_back(kv.second);
  for (const auto& kv : b) vb.push_back(kv.second);
  const bool same_seeds = a.size() == b.size() &&
                          std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
                            return x.first == y.first;
                          });
  return same_seeds ? paired_interval(va, vb, level) : welch_interval(va, vb, level);
}

double normal_quantile(double p) {
  if (p == 0.5) return 0;
  if (p < 0.5) return -normal_quantile(1.0 - p);
  double lo = 0, hi = 40;  // Phi(x) = erfc(-x / sqrt 2) / 2 increases
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::optional<DiffInterval> bootstrap_interval(double estimate, const std::vector<double>& a,
                                               const std::vector<double>& b, double level) {
  if (a.size() < 2 || (!b.empty() && b.size() != a.size())) return std::nullopt;
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - (b.empty() ? 0.0 : b[i]);
  DiffInterval out;
  out.method = "bootstrap";
  out.n = static_cast<int64_t>(d.size());
  out.diff = estimate;
  const double z = normal_quantile(0.5 + level / 2);
  const double half = z * std::sqrt(variance_of(d));
  out.lo = estimate - half;
  out.hi = estimate + half;
  return out;
}

std::optional<DiffInterval> welch_interval(const std::vector<double>& a,
                                           const std::vector<double>& b, double level) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double va = variance_of(a) / na, vb = variance_of(b) / nb;
  if (va + vb <= 0) return std::nullopt;
  DiffInterval out;
  out.method = "welch";
  out.n = static_cast<int64_t>(std::min(a.size(), b.size()));
  out.df = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
  out.diff = mean_of(a) - mean_of(b);
  const double half = student_t_quantile(0.5 + level / 2, out.df) * std::sqrt(va + vb);
  out.lo = out.diff - half;
  out.hi = out.diff + half;
  return out;
}

}  // namespace focalab::reports
