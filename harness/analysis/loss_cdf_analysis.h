#pragma once
// `focalab analyze loss-cdf`: the curves of harness/eval/loss_cdf.h for a trained model — its
// val images' anchors labelled as in training, every (anchor, class) example's signed logit.

#include <torch/types.h>

#include <string>

#include "harness/config/trial_config.h"
#include "harness/eval/loss_cdf.h"

namespace focalab::harness {
inline namespace analysis {

// REQUIRES: config passed finalize_config(). Builds the trial's model, loads the weights of
// `checkpoint` (a training checkpoint of this trial), labels the val images' anchors as in
// training and computes the curves. Throws DataError (checkpoint, data), UsageError (options).
LossCdfResult analyze_loss_cdf(const TrialConfig& config, const std::string& checkpoint,
                               const LossCdfOptions& options, const torch::Device& device);

}  // namespace analysis
}  // namespace focalab::harness
