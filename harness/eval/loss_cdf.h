#pragma once
// `focalab analyze loss-cdf`: Figure 4 of the focal-loss paper. A trained model is run on val
// images; every (anchor, class) example is a binary example: positives are the ground-truth class
// of the anchors matched as foreground, negatives every class of the anchors matched as background
// (anchors the matcher ignores, and the other classes of foreground anchors, are left out). For
// each gamma the focal loss FL(p_t) = -(1 - p_t)^gamma log(p_t) of every example is computed, the
// examples are sorted by loss (ascending) and the cumulative sum, normalized to 1, is sampled at
// fixed fractions of the examples: the curves show how much of a set's loss its easiest x% carry.

#include <torch/types.h>

#include <string>
#include <vector>

namespace focalab::harness {
inline namespace eval {

struct LossCdfOptions {
  std::vector<double> gammas = {0, 0.5, 1, 2};
  int64_t images = 0;                 // val images, the first N in dataset order (0 = all)
  int64_t max_negatives = 10000000;   // uniform sample of the negatives above this (paper: ~1e7)
  uint64_t seed = 0;                  // of that sample
};

struct LossCdfCurve {
  double gamma = 0;
  std::string examples;             // "positive" | "negative"
  int64_t count = 0;                // examples in the set
  std::vector<double> fraction;     // x: fraction of the set's examples, easiest first
  std::vector<double> cumulative;   // y: share of the set's total loss they carry
  double hardest_half = 0;          // smallest fraction of (hardest) examples with half the loss
};

struct LossCdfResult {
  int64_t iteration = 0;  // training iterations of the analyzed checkpoint
  int64_t images = 0;
  std::vector<LossCdfCurve> curves;  // per gamma: positive, negative
};

// The fractions the curves are sampled at: 0, 0.005, ..., 1 and a finer tail up to 1 - 1e-6
// (the hard tail is where the curves of large gamma rise).
const std::vector<double>& loss_cdf_fractions();

// The curve of one set from its examples' signed logits s (s = logit for a positive, -logit for
// a negative, so p_t = sigmoid(s)); finite for any s. Throws std::invalid_argument when s is
// empty.
LossCdfCurve cumulative_loss_curve(const torch::Tensor& signed_logits, double gamma);

}  // namespace eval
}  // namespace focalab::harness
