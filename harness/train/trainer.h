#pragma once
// Trains one trial and evaluates it: data (synthetic or COCO) -> RetinaNet -> label_anchors ->
// classification loss + box loss (normalized by the number of positive anchors) -> SGD with
// linear warmup and step schedule. The loss breakdown accumulates every iteration and is handed
// to the observer every `train.log_every` iterations with the averaged step log. A non-finite
// loss ends the trial as diverged (with its iteration). The trainer writes nothing itself: the
// scheduler's observer stores what it receives.

#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "harness/config/trial_config.h"
#include "harness/data/dataset.h"
#include "harness/eval/coco_eval.h"
#include "harness/store/store.h"
#include "harness/train/train_step.h"
#include "losses/classification_loss.h"
#include "losses/loss_breakdown.h"
#include "losses/loss_histogram.h"
#include "models/anchors/matcher.h"
#include "models/postprocess.h"
#include "models/retinanet.h"

namespace focalab::harness {
inline namespace train {

class TrialObserver {
 public:
  virtual ~TrialObserver() = default;
  // Every log_every iterations (and at the last one): the averaged step log, the breakdown
  // sums of the interval and the loss histogram of its last iteration.
  virtual void on_interval(const StepLog& step, const losses::LossBreakdownSums& sums,
                           const losses::LossHistogramSums& histogram) = 0;
  // Before the first iteration: 0 for a fresh start, else the iteration the trial resumes after
  // (from its checkpoint); logs of later iterations are to be discarded.
  virtual void on_start(int64_t resumed_after) {}
  // A periodic evaluation on val during training (train.eval_every), after `iteration`.
  virtual void on_evaluation(int64_t iteration, const CocoSummary& summary,
                             const std::vector<std::string>& class_names) {}
  // After a checkpoint of `iteration` completed iterations was written to `path`.
  virtual void on_checkpoint(const std::string& path, int64_t iteration) {}
  // Every iteration; cheap (progress display).
  virtual void on_iteration(int64_t iteration, int64_t total, double loss, double lr) {}
  // Polled every iteration; true makes the trainer throw InterruptedError.
  virtual bool stop_requested() { return false; }
};

struct TrialOutcome {
  TrialStatus status = TrialStatus::kDone;   // kDone or kDiverged
  std::optional<int64_t> diverged_at;        // iteration of the first non-finite loss
  std::optional<CocoSummary> val;            // set when done
  double train_seconds = 0;
  double eval_seconds = 0;
  std::vector<std::string> class_names;  // the dataset's, label order
};

// RetinaNet options from a trial config.
models::RetinaNetOptions retinanet_options(const TrialConfig& config);

// Inference postprocessing (score threshold, candidates per level, NMS, detections) of model.*.
models::PostprocessOptions postprocess_options(const ModelConfig& config);

// The anchor matcher's options from a trial config.
models::MatcherOptions matcher_options(const ModelConfig& config);

// The trial's classification loss (loss.kind and its keys) for losses::ClassificationLoss.
losses::ClassificationLossOptions classification_loss_options(const LossConfig& loss);

// Loads the weights of a training checkpoint (written by train_trial) into `model`, which must
// have the trial's architecture; returns the number of iterations the checkpoint was trained for.
// Throws DataError when the file is unreadable, not a checkpoint, or of another architecture.
int64_t load_checkpoint_weights(const std::string& path, models::RetinaNet& model);

// REQUIRES: config passed finalize_config(). With a checkpoint path, the trial resumes from
// the checkpoint there if the file exists, writes one every train.checkpoint_every iterations
// (at the end of a logging interval) and at the end of training, and one when the observer asks
// to stop (then throws InterruptedError). Everything that decides the result — weights,
// momentum, data order, flips, the sums of the logging interval in progress — is restored, so a
// resumed trial logs and ends exactly as an uninterrupted one. Other exceptions propagate (the
// scheduler marks the trial failed).
TrialOutcome train_trial(const TrialConfig& config, const torch::Device& device,
                         TrialObserver& observer, const std::string& checkpoint_path = {});

// COCO evaluation of `model` on `val_set` (config: postprocessing and batch size).
CocoSummary evaluate_model(models::RetinaNet& model, const TrialConfig& config,
                           const DetectionDataset& val_set, const torch::Device& device);

}  // namespace train
}  // namespace focalab::harness
