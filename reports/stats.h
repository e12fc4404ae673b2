#pragma once
// Confidence intervals for comparisons between configurations of a sweep: Student's t
// distribution (CDF and quantile, any positive degrees of freedom, fractional ones for Welch),
// the paired t interval of a mean difference over seeds both configurations ran, and Welch's
// interval of a difference of two means.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace focalab::reports {

// The regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1].
double incomplete_beta(double x, double a, double b);
// P(T <= t) for Student's t with `df` > 0 degrees of freedom.
double student_t_cdf(double t, double df);
// The p-quantile of Student's t with `df` > 0 degrees of freedom, p in (0, 1).
double student_t_quantile(double p, double df);

struct DiffInterval {
  std::string method;  // "paired" or "welch"
  int64_t n = 0;       // pairs (paired), or the smaller sample (welch)
  double df = 0;
  double diff = 0;     // mean difference, a - b
  double lo = 0, hi = 0;
  // The interval excludes 0.
  bool significant() const { return lo > 0 || hi < 0; }
};

// The `level` (e.g. .95) interval of mean(a - b) over pairs (a[i], b[i]); nullopt under 2 pairs.
std::optional<DiffInterval> paired_interval(const std::vector<double>& a,
                                            const std::vector<double>& b, double level = 0.95);
// The `level` interval of a mean (one-sample t; method "t"); nullopt under 2 values.
std::optional<DiffInterval> mean_interval(const std::vector<double>& v, double level = 0.95);

// The interval of mean(a) - mean(b) for values by seed: paired when both have the same seeds
// (2 or more), else Welch's.
std::optional<DiffInterval> seed_interval(const std::map<int64_t, double>& a,
                                          const std::map<int64_t, double>& b,
                                          double level = 0.95);

// The p-quantile of the standard normal distribution, p in (0, 1).
double normal_quantile(double p);

// The q-quantile (q in [0, 1]) of `v`, linear between order statistics (numpy's default).
double quantile(std::vector<double> v, double q);

// Bootstrap `level` interval (method "bootstrap", n = replicates) of an estimate: `estimate` +-
// z x the standard deviation of a[r] - b[r] over replicates drawn with the same resamples (b
// empty: of a[r] alone). The normal interval around the full-sample estimate, not the
// percentiles: the replicates of AP are biased upward (its precision envelope is a running
// maximum, which resampling noise raises), so their percentiles can miss the estimate itself.
// nullopt under 2 replicates or unequal counts.
std::optional<DiffInterval> bootstrap_interval(double estimate, const std::vector<double>& a,
                                               const std::vector<double>& b,
                                               double level = 0.95);

// Welch's `level` interval of mean(a) - mean(b) (unequal variances, Welch-Satterthwaite degrees
// of freedom); nullopt when a sample has under 2 values or both have no spread.
std::optional<DiffInterval> welch_interval(const std::vector<double>& a,
                                           const std::vector<double>& b, double level = 0.95);

}  // namespace focalab::reports
