#include "harness/analysis/loss_cdf_analysis.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "harness/data/dataset.h"
#include "harness/train/trainer.h"
#include "harness/util/errors.h"
#include "models/anchors/anchor_labels.h"
#include "models/retinanet.h"

namespace focalab::harness {
inline namespace analysis {

LossCdfResult analyze_loss_cdf(const TrialConfig& trial_config, const std::string& checkpoint,
                               const LossCdfOptions& options, const torch::Device& device) {
  if (options.gammas.empty()) throw UsageError("--gammas: give at least one value, e.g. 0,0.5,1,2");
  for (double g : options.gammas) {
    if (!std::isfinite(g) || g < 0 || g > 100) {
      throw UsageError(fmt::format("--gammas: {} is not allowed (finite values in [0, 100])", g));
    }
  }
  if (options.images < 0) throw UsageError("--images must be >= 0 (0 = all val images)");
  if (options.max_negatives < 1) throw UsageError("--max-negatives must be >= 1");
  const auto val_set = open_dataset(trial_config.data, Split::kVal);
  TrialConfig config = trial_config;
  config.data.num_classes = val_set->num_classes();
  models::RetinaNet model(retinanet_options(config));
  LossCdfResult result;
  result.iteration = load_checkpoint_weights(checkpoint, model);
  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;

  result.images = options.images > 0 ? std::min(options.images, val_set->size()) : val_set->size();
  const int64_t per_image = std::max<int64_t>(1, options.max_negatives / std::max<int64_t>(1, result.images));
  torch::manual_seed(options.seed);
  const models::Matcher matcher(matcher_options(config.model));
  const int64_t batch_size = std::max<int64_t>(1, config.train.batch_size);
  std::vector<torch::Tensor> positives, negatives;
  for (int64_t start = 0; start < result.images; start += batch_size) {
    std::vector<Sample> samples;
    for (int64_t i = start; i < std::min(result.images, start + batch_size); ++i) {
      samples.push_back(val_set->get(i));
    }
    Batch batch = collate(samples);
    auto out = model->forward(batch.images.to(device));
    std::vector<torch::Tensor> gt_boxes, gt_classes, crowd_boxes;
    for (size_t i = 0; i < samples.size(); ++i) {
      gt_boxes.push_back(batch.boxes[i].to(device));
      gt_classes.push_back(batch.classes[i].to(device));
      crowd_boxes.push_back(batch.crowd_boxes[i].to(device));
    }
    auto targets = models::label_anchors(out.anchors, gt_boxes, gt_classes, matcher, crowd_boxes);
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto idx = static_cast<int64_t>(i);
      auto logits = out.cls_logits[idx].to(torch::kFloat);  // [R, K]
      auto labels = targets.labels[idx];
      auto pos = labels == 1;
      if (pos.any().item<bool>()) {
        auto cls = targets.gt_classes[idx].index({pos}).unsqueeze(1);
        positives.push_back(logits.index({pos}).gather(1, cls).reshape({-1}).cpu());
      }
      auto neg = -logits.index({labels == 0}).reshape({-1});
      if (neg.numel() > per_image) {
        neg = neg.index_select(0, torch::randperm(neg.numel(), torch::TensorOptions()
                                                                   .dtype(torch::kLong)
                                                                   .device(neg.device()))
                                      .slice(0, 0, per_image));
      }
      if (neg.numel() > 0) negatives.push_back(neg.cpu());
    }
  }
  if (positives.empty() || negatives.empty()) {
    throw DataError(fmt::format("{}: the first {} val images have no {} anchors; nothing to "
                                "analyze (give more --images)",
                                config.data.kind == DataKind::kCoco
                                    ? config.data.resolve(config.data.val_annotations)
                                    : std::string("synthetic val set"),
                                result.images, positives.empty() ? "foreground" : "background"));
  }
  const auto pos = torch::cat(positives), neg = torch::cat(negatives);
  for (double gamma : options.gammas) {
    auto p = cumulative_loss_curve(pos, gamma);
    p.examples = "positive";
    auto n = cumulative_loss_curve(neg, gamma);
    n.examples = "negative";
    result.curves.push_back(std::move(p));
    result.curves.push_back(std::move(n));
  }
  return result;
}

}  // namespace analysis
}  // namespace focalab::harness
