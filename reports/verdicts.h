#pragma once
// Verdicts on a sweep's claims (harness/config/claims.h) from its trials: holds, fails or
// inconclusive, decided by 95% confidence intervals over the seeds (reports/stats.h), never by the
// means alone.
//
//   better A than B  the interval of A's metric minus B's (paired t over shared seeds, else
//                    Welch): above 0 holds, below 0 fails, else inconclusive.
//   peak KEY [at V]  rows ordered by KEY; the row with the highest mean is interior and its
//                    interval against each end row is above 0: holds (with `at`: only when that
//                    row is at V; when another row is significantly above the row at V it fails).
//                    The highest row at an end and significantly above every interior row (a
//                    monotone curve): fails. Else inconclusive.
//   collapses A      A's one-sample interval of its mean lies below `below` x the best row's mean:
//                    holds; above it: fails; else inconclusive.
//   diverges A       every trial of A diverged: holds; none did (and some finished): fails; a mix,
//                    or none finished yet: inconclusive.
// A row with one seed has no interval over seeds; where both sides have bootstrap replicates over
// the same val images (the same data.* config), the paired percentile bootstrap interval stands
// in; otherwise the comparison is inconclusive (the evidence shows the difference of the means).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/config/claims.h"
#include "reports/stats.h"

namespace focalab::reports {

// One configuration of a sweep (seeds aside), as the verdicts see it.
struct ClaimRow {
  harness::TrialConfig config;                   // any of its trials' (the seed aside)
  std::map<std::string, std::map<int64_t, double>> metric_by_seed;  // done trials, x100
  // With one done trial: its bootstrap replicates over the val images, x100 (AP, AP50, AP75).
  std::map<std::string, std::vector<double>> bootstrap;
  int64_t trials = 0, done = 0, diverged = 0;
};

// The 95% interval of a's metric minus b's: over seeds (paired when both ran the same seeds,
// else Welch's; reports/stats.h seed_interval), or — one done trial a side, evaluated on the same
// data — the paired bootstrap over the val images. None when neither applies. Shared by the
// claims' verdicts and `report --baseline`.
std::optional<DiffInterval> difference_interval(const ClaimRow& a, const ClaimRow& b,
                                                const std::string& metric);

enum class Verdict { kHolds, kFails, kInconclusive };
const char* verdict_name(Verdict v);  // "holds", "fails", "inconclusive"

struct ClaimVerdict {
  harness::Claim claim;
  Verdict verdict = Verdict::kInconclusive;
  std::string evidence;  // the numbers behind it, one line
};

std::vector<ClaimVerdict> evaluate_claims(const std::vector<harness::Claim>& claims,
                                          const std::vector<ClaimRow>& rows);

}  // namespace focalab::reports
