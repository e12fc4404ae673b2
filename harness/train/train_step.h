#pragma once
// One training iteration of RetinaNet, shared by the trainer and `focalab bench train`: forward,
// anchor labelling, classification loss (with its accounting) and box loss, then backward and
// the SGD step. StageTimer splits the iteration's wall time into stages for `bench train
// --profile`; without a timer nothing is synchronized or measured.

#include <torch/optim/sgd.h>
#include <torch/types.h>

#include <memory>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/config/trial_config.h"
#include "harness/train/amp.h"
#include "losses/classification_loss.h"
#include "losses/loss_breakdown.h"
#include "losses/loss_histogram.h"
#include "models/anchors/box_coder.h"
#include "models/anchors/matcher.h"
#include "models/retinanet.h"

namespace focalab::harness {
inline namespace train {

// The optimizer: LibTorch's SGD, one parameter group (dampening 0, no Nesterov: the paper's).
using Sgd = torch::optim::SGD;
std::unique_ptr<Sgd> make_sgd(std::vector<torch::Tensor> params, double momentum,
                              double weight_decay);
// The parameters it updates, in order.
std::vector<torch::Tensor>& sgd_params(Sgd& sgd);
void set_learning_rate(Sgd& sgd, double lr);
// Gradients to none (LibTorch 1.13's zero_grad() fills them with zeros, and SGD then steps
// parameters that got no gradient).
void clear_grads(Sgd& sgd);
// The momentum buffer of each parameter, in order (undefined before the parameter's first
// step): what a checkpoint keeps. set_momentum_buffers puts them back (an undefined one: none).
std::vector<torch::Tensor> momentum_buffers(Sgd& sgd);
void set_momentum_buffers(Sgd& sgd, const std::vector<torch::Tensor>& buffers);

// Wall time per named stage, accumulated over iterations. mark(stage) charges the time since the
// previous mark (or start()) to `stage`; on CUDA the device is synchronized first, so that each
// stage is charged with its own kernels.
class StageTimer {
 public:
  explicit StageTimer(const torch::Device& device) : device_(device) {}
  void start();
  void mark(const std::string& stage);
  // Stages in first-marked order with their total seconds.
  const std::vector<std::pair<std::string, double>>& totals() const { return totals_; }
  void clear() { totals_.clear(); }

 private:
  torch::Device device_;
  double last_ = 0;
  std::vector<std::pair<std::string, double>> totals_;
};

// A batch on the training device.
struct StepInput {
  torch::Tensor images;                     // [N, 3, H, W] in [0, 1]
  std::vector<torch::Tensor> gt_boxes;      // N x [G_i, 4]
  std::vector<torch::Tensor> gt_classes;    // N x [G_i] int64
  std::vector<torch::Tensor> crowd_boxes;   // N x [C_i, 4] (may be empty)
};

struct StepLosses {
  models::RetinaNetOutputs out;
  torch::Tensor anchor_labels;  // [N, R]: class k, -1 background, -2 ignored (after OHEM)
  torch::Tensor max_iou;        // [N, R]
  torch::Tensor loss_cls, loss_box, loss;  // scalars, normalized
  double num_pos = 0;           // positive anchors the loss scores
  double normalizer = 0;        // the normalizer (or its per-image equivalent), for the log
};

class TrainStep {
 public:
  // config: the trial's model and loss keys; num_classes: the dataset's.
  TrainStep(const TrialConfig& config, int64_t num_classes);

  // Forward, labels and losses. `ema_normalizer` is detectron2's running normalizer (read and
  // updated with loss.normalizer = ema). The classification loss's accounting is added to
  // `breakdown` when given (the iteration is closed here). Stages: backbone, fpn, heads,
  // matching, loss.
  StepLosses losses(models::RetinaNet& model, const StepInput& input, double& ema_normalizer,
                    losses::LossBreakdown* breakdown, StageTimer* timer = nullptr) const;

  // Backward, gradient clipping (train.clip_grad_norm) and the SGD step at `lr`. Stages:
  // backward, optimizer. With train.amp fp16 the loss is scaled for backward and a step whose
  // gradients are not finite is skipped (returns false).
  bool update(const StepLosses& step, Sgd& sgd, double lr, StageTimer* timer = nullptr) const;

  // The loss histogram of this iteration's scored anchors (the trainer does this at the end of
  // each logging interval).
  void record_histogram(const StepLosses& step, losses::LossHistogram& histogram) const;

  const losses::ClassificationLoss& classification_loss() const { return cls_loss_; }
  const models::BoxCoder& box_coder() const { return box_coder_; }

 private:
  TrialConfig config_;
  int64_t num_classes_;
  models::Matcher matcher_;
  models::BoxCoder box_coder_;
  losses::ClassificationLoss cls_loss_;
  std::optional<torch::ScalarType> amp_;
  mutable LossScaler scaler_;  // fp16 only
};

// The box coder of a trial's model keys (box_weights).
models::BoxCoder box_coder_for(const ModelConfig& config);

}  // namespace train
}  // namespace focalab::harness
