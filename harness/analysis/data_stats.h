#pragma once
// `focalab data stats`: how imbalanced a config's training data is for its detector, before any
// training — the statistics the focal-loss paper's argument starts from. Every anchor of every
// training image is matched to the ground truth with the trial's anchors and matcher (as the
// trainer does), and counted as positive, ignored or negative. The binary examples of the
// classification loss are anchors x classes: a positive anchor gives one positive and K - 1
// negatives, a negative anchor K negatives, an ignored anchor none.

#include <cstdint>
#include <functional>
#include <string>

#include "harness/config/trial_config.h"

namespace focalab::harness {
inline namespace analysis {

struct DataStats {
  int64_t images = 0;   // training images counted
  int64_t objects = 0;  // ground-truth boxes in them
  int64_t classes = 0;
  int64_t images_without_positive = 0;
  double anchors = 0;  // summed over images
  double positive_anchors = 0, ignored_anchors = 0, negative_anchors = 0;
  double binary_positives = 0, binary_negatives = 0;
  double prior_prob = 0.01;

  // Binary negatives per positive binary example, over all counted images (sum / sum).
  double negatives_per_positive() const;
  // The share of the classification loss from negatives at the prior initialization (every
  // logit at log(pi / (1 - pi))): for cross-entropy, alpha-balanced CE (alpha < 0: none) and the
  // focal loss with `gamma`. Positives cost -log(pi), negatives -log(1 - pi), each scaled by the
  // loss's weight.
  double negative_share_at_init(double alpha = -1, double gamma = 0) const;
  // A readable report (several lines).
  std::string report(const std::string& source, const TrialConfig& config) const;
};

// Counts `max_images` training images of `config` (0 = all). `progress(done, total)` is called
// now and then. REQUIRES: config passed finalize_config().
DataStats compute_data_stats(const TrialConfig& config, int64_t max_images,
                             const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace analysis
}  // namespace focalab::harness
