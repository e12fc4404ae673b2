#include "harness/train/trainer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <map>
#include <future>
#include <numeric>
#include <random>

#include "harness/config/config.h"
#include "harness/data/dataset.h"
#include "harness/interop/torch_file.h"
#include "harness/interop/weights.h"
#include "harness/train/amp.h"
#include "harness/util/errors.h"
#include "harness/util/splitmix.h"
#include "losses/classification_loss.h"
#include "losses/focal_loss.h"
#include "models/postprocess.h"
#include "models/transform.h"

namespace focalab::harness {
inline namespace train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Detectron's schedule: linear warmup from lr * warmup_factor, then steps.
double learning_rate(const TrainConfig& t, int64_t iteration) {
  double lr = t.lr;
  for (int64_t step : t.lr_steps) {
    if (iteration >= step) lr *= t.lr_gamma;
  }
  if (iteration < t.warmup_iters) {
    const double a = static_cast<double>(iteration) / static_cast<double>(t.warmup_iters);
    lr *= t.warmup_factor * (1 - a) + a;
  }
  return lr;
}

// Endless shuffled pass over the train split, one permutation per epoch from the trial seed.
class BatchSampler {
 public:
  BatchSampler(int64_t size, int64_t batch, uint64_t seed) : size_(size), batch_(batch), rng_(seed) {}
  std::vector<int64_t> next() {
    std::vector<int64_t> out;
    while (static_cast<int64_t>(out.size()) < batch_) {
      if (pos_ == order_.size()) {
        order_.resize(static_cast<size_t>(size_));
        std::iota(order_.begin(), order_.end(), 0);
        for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng_() % i]);
        pos_ = 0;
      }
      out.push_back(order_[pos_++]);
    }
    return out;
  }

 private:
  int64_t size_, batch_;
  std::mt19937_64 rng_;
  std::vector<int64_t> order_;
  size_t pos_ = 0;
};

// Training batches in sampler order, `workers` of them loaded ahead by background threads (0:
// loaded on demand). Whether the j-th sample drawn is flipped is a function of (seed, j) only.
class BatchLoader {
 public:
  // Serves batches skip+1 .. batches of the sequence (skip: batches already trained on).
  BatchLoader(std::shared_ptr<const DetectionDataset> dataset, int64_t batch_size, uint64_t seed,
              double flip, int64_t workers, int64_t batches, int64_t skip, bool pin)
      : dataset_(std::move(dataset)), sampler_(dataset_->size(), batch_size, seed), seed_(seed),
        flip_(flip), workers_(workers), remaining_(batches - skip), pin_(pin) {
    for (int64_t i = 0; i < skip; ++i) plan();
    for (int64_t i = 0; i < workers_; ++i) schedule();
  }
  ~BatchLoader() {
    for (auto& f : pending_) {
      if (f.valid()) f.wait();
    }
  }

  Batch next() {
    if (workers_ == 0) return load(plan());
    Batch b = pending_.front().get();
    pending_.pop_front();
    schedule();
    return b;
  }

 private:
  struct Plan {
    std::vector<int64_t> indices;
    std::vector<bool> flips;
  };
  Plan plan() {
    Plan p;
    p.indices = sampler_.next();
    for (size_t i = 0; i < p.indices.size(); ++i) {
      const uint64_t h = splitmix64(seed_ * 0x632be59bd9b4e019ULL + drawn_++);
      p.flips.push_back(static_cast<double>(h >> 11) * 0x1.0p-53 < flip_);
    }
    return p;
  }
  Batch load(const Plan& p) const {
    std::vector<Sample> samples;
    for (size_t i = 0; i < p.indices.size(); ++i) {
      samples.push_back(dataset_->get(p.indices[i]));
      if (p.flips[i]) flip_horizontal(samples.back());
    }
    Batch b = collate(samples);
    // Page-locked, in the loading thread, so that the copy to the GPU can be asynchronous.
    if (pin_) b.images = b.images.pin_memory();
    return b;
  }
  void schedule() {
    if (remaining_ <= 0) return;
    --remaining_;
    pending_.push_back(std::async(std::launch::async, [this, p = plan()] { return load(p); }));
  }

  std::shared_ptr<const DetectionDataset> dataset_;
  BatchSampler sampler_;
  uint64_t seed_;
  double flip_;
  int64_t workers_;
  int64_t remaining_;
  bool pin_;
  uint64_t drawn_ = 0;
  std::deque<std::future<Batch>> pending_;
};


// What a checkpoint holds besides the model and the momentum buffers: the position in training
// and the sums of the logging interval in progress, so that a resumed trial continues exactly.
struct Progress {
  int64_t iteration = 0;        // iterations completed
  double ema_normalizer = 100;  // detectron2's initial value
  StepLog acc;                  // sums of the interval in progress
  int64_t acc_n = 0;
  double data_seconds = 0;
  double interval_seconds = 0;  // time spent in the interval in progress
  losses::LossBreakdownSums breakdown;
};

constexpr double kCheckpointFormat = 1;

void write_checkpoint(const std::string& path, models::RetinaNet& model, Sgd& sgd,
                      const Progress& p) {
  StateDict state;
  for (const auto& item : model->named_parameters()) {
    state.emplace_back("model." + item.key(), item.value().detach().cpu());
  }
  for (const auto& item : model->named_buffers()) {
    state.emplace_back("model." + item.key(), item.value().detach().cpu());
  }
  const auto buffers = momentum_buffers(sgd);
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (buffers[i].defined()) {
      state.emplace_back(fmt::format("optimizer.momentum_buffer.{}", i), buffers[i].cpu());
    }
  }
  const std::vector<double> scalars = {
      kCheckpointFormat, static_cast<double>(p.iteration), p.ema_normalizer, p.acc.lr,
      p.acc.loss_cls, p.acc.loss_box, p.acc.loss_total, p.acc.num_pos, p.acc.normalizer,
      static_cast<double>(p.acc_n), p.data_seconds, p.interval_seconds,
      static_cast<double>(p.breakdown.iterations), static_cast<double>(p.breakdown.ignored_anchors),
      p.breakdown.normalizer_sum};
  state.emplace_back("trainer.scalars", torch::tensor(scalars, torch::kDouble));
  if (p.breakdown.iterations > 0) {
    state.emplace_back("trainer.breakdown_count", torch::tensor(p.breakdown.count, torch::kDouble));
    state.emplace_back("trainer.breakdown_loss",
                       torch::tensor(p.breakdown.loss_sum, torch::kDouble));
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  write_state_dict(path, state);
}

using CheckpointState = std::map<std::string, torch::Tensor>;

CheckpointState read_checkpoint_file(const std::string& path) {
  CheckpointState state;
  for (auto& [name, t] : read_state_dict(path)) state.emplace(name, t);
  return state;
}

const torch::Tensor& take(const CheckpointState& state, const std::string& path,
                          const std::string& name) {
  auto it = state.find(name);
  if (it == state.end()) {
    throw DataError(fmt::format("{}: not a focalab training checkpoint of this trial ({} is "
                                "missing)", path, name));
  }
  return it->second;
}

// trainer.scalars, format checked.
torch::Tensor checkpoint_scalars(const CheckpointState& state, const std::string& path) {
  auto scalars = take(state, path, "trainer.scalars").to(torch::kDouble).contiguous();
  if (scalars.numel() != 15 || scalars[0].item<double>() != kCheckpointFormat) {
    throw DataError(fmt::format("{}: checkpoint format not understood", path));
  }
  return scalars;
}

// The model.* tensors into the model's parameters and buffers (shapes must agree).
void copy_model_state(const CheckpointState& state, const std::string& path,
                      models::RetinaNet& model) {
  torch::NoGradGuard no_grad;
  auto copy_into = [&](const std::string& name, torch::Tensor& dst) {
    const auto& src = take(state, path, "model." + name);
    if (src.sizes() != dst.sizes()) {
      throw DataError(fmt::format("{}: model.{} has shape [{}], the model [{}]", path, name,
                                  fmt::join(src.sizes(), ", "), fmt::join(dst.sizes(), ", ")));
    }
    dst.copy_(src);
  };
  for (auto& item : model->named_parameters()) copy_into(item.key(), item.value());
  for (auto& item : model->named_buffers()) copy_into(item.key(), item.value());
}

// Loads a checkpoint written by write_checkpoint into model, sgd and the returned progress.
// Throws DataError when the file is unreadable or does not fit.
Progress read_checkpoint(const std::string& path, models::RetinaNet& model, Sgd& sgd,
                         int64_t num_classes) {
  const CheckpointState state = read_checkpoint_file(path);
  const auto scalars = checkpoint_scalars(state, path);
  const double* v = scalars.data_ptr<double>();
  copy_model_state(state, path, model);
  const auto& params = sgd_params(sgd);
  std::vector<torch::Tensor> buffers(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = state.find(fmt::format("optimizer.momentum_buffer.{}", i));
    if (it != state.end()) buffers[i] = it->second.to(params[i].device()).clone();
  }
  set_momentum_buffers(sgd, buffers);
  Progress p;
  p.iteration = static_cast<int64_t>(v[1]);
  p.ema_normalizer = v[2];
  p.acc.lr = v[3];
  p.acc.loss_cls = v[4];
  p.acc.loss_box = v[5];
  p.acc.loss_total = v[6];
  p.acc.num_pos = v[7];
  p.acc.normalizer = v[8];
  p.acc_n = static_cast<int64_t>(v[9]);
  p.data_seconds = v[10];
  p.interval_seconds = v[11];
  p.breakdown.num_classes = num_classes;
  p.breakdown.iterations = static_cast<int64_t>(v[12]);
  p.breakdown.ignored_anchors = static_cast<int64_t>(v[13]);
  p.breakdown.normalizer_sum = v[14];
  const size_t n = static_cast<size_t>(losses::kNumLossCategories * num_classes);
  p.breakdown.count.assign(n, 0.0);
  p.breakdown.loss_sum.assign(n, 0.0);
  if (p.breakdown.iterations > 0) {
    auto c = take(state, path, "trainer.breakdown_count").to(torch::kDouble).contiguous();
    auto l = take(state, path, "trainer.breakdown_loss").to(torch::kDouble).contiguous();
    if (static_cast<size_t>(c.numel()) != n || static_cast<size_t>(l.numel()) != n) {
      throw DataError(fmt::format("{}: loss breakdown of another number of classes", path));
    }
    std::copy(c.data_ptr<double>(), c.data_ptr<double>() + n, p.breakdown.count.begin());
    std::copy(l.data_ptr<double>(), l.data_ptr<double>() + n, p.breakdown.loss_sum.begin());
  }
  return p;
}

}  // namespace

models::MatcherOptions matcher_options(const ModelConfig& c) {
  models::MatcherOptions m;
  m.fg_iou = c.fg_iou;
  m.bg_iou = c.bg_iou;
  switch (c.low_quality) {
    case LowQuality::kNone: m.low_quality = models::LowQualityMatches::kNone; break;
    case LowQuality::kAny: m.low_quality = models::LowQualityMatches::kAny; break;
    case LowQuality::kAboveBg: m.low_quality = models::LowQualityMatches::kAboveBg; break;
  }
  return m;
}

int64_t load_checkpoint_weights(const std::string& path, models::RetinaNet& model) {
  const CheckpointState state = read_checkpoint_file(path);
  const auto scalars = checkpoint_scalars(state, path);
  copy_model_state(state, path, model);
  return static_cast<int64_t>(scalars[1].item<double>());
}

models::PostprocessOptions postprocess_options(const ModelConfig& c) {
  return {c.score_thresh, c.topk_candidates, c.nms_thresh, c.detections_per_image};
}

models::RetinaNetOptions retinanet_options(const TrialConfig& config) {
  const auto& m = config.model;
  models::RetinaNetOptions o;
  o.backbone.preset = name_of(m.backbone);
  o.backbone.norm = m.norm == BackboneNorm::kBn ? models::NormKind::kBatchNorm
                                                : models::NormKind::kFrozenBatchNorm;
  o.backbone.frozen_stages = m.frozen_stages;
  o.fpn.out_channels = m.fpn_channels;
  o.fpn.p6_source = m.p6_from == P6From::kP5 ? models::P6Source::kP5 : models::P6Source::kC5;
  o.head.num_classes = config.data.num_classes;
  o.head.num_convs = m.head_convs;
  o.head.norm = m.head_norm == HeadNormKind::kGroupNorm ? models::HeadNorm::kGroupNorm
                                                        : models::HeadNorm::kNone;
  o.head.prior_prob = m.prior_prob;
  o.anchors.sizes = m.anchor_sizes;
  o.anchors.integer_sizes = m.anchor_integer_sizes;
  o.anchors.scales_per_octave = m.scales_per_octave;
  o.anchors.aspect_ratios = m.aspect_ratios;
  return o;
}

TrialOutcome train_trial(const TrialConfig& trial_config, const torch::Device& device,
                         TrialObserver& observer, const std::string& checkpoint_path) {
  if (const auto why = amp_unsupported(trial_config.train.amp, device); !why.empty()) {
    throw ConfigError("train.amp: " + why);
  }
  // The datasets first: a COCO dataset decides the number of classes.
  const auto train_set = open_dataset(trial_config.data, Split::kTrain);
  const auto val_set = open_dataset(trial_config.data, Split::kVal);
  if (train_set->class_names() != val_set->class_names()) {
    throw DataError(fmt::format("{}: the val categories ({}) differ from the train categories "
                                "({}) of {}",
                                trial_config.data.resolve(trial_config.data.val_annotations),
                                fmt::join(val_set->class_names(), ", "),
                                fmt::join(train_set->class_names(), ", "),
                                trial_config.data.resolve(trial_config.data.train_annotations)));
  }
  TrialConfig config = trial_config;
  config.data.num_classes = train_set->num_classes();
  const auto& tc = config.train;
  // The fresh model (its initial weights from the seed) and its optimizer.
  models::RetinaNet model{nullptr};
  std::vector<torch::Tensor> params;
  auto build_model = [&]() {
    torch::manual_seed(static_cast<uint64_t>(config.seed));
    model = models::RetinaNet(retinanet_options(config));
    if (!config.model.backbone_weights.empty()) {
      load_backbone_weights(model->backbone(), resolve_weights_path(config.model.backbone_weights));
    }
    model->to(device);
    model->train();
    params.clear();
    for (auto& p : model->parameters()) {
      if (p.requires_grad()) params.push_back(p);
    }
    return make_sgd(params, tc.momentum, tc.weight_decay);
  };
  std::unique_ptr<Sgd> optimizer = build_model();

  // Resume from the trial's checkpoint when there is one.
  Progress progress;
  std::error_code exists_ec;
  if (!checkpoint_path.empty() && std::filesystem::exists(checkpoint_path, exists_ec)) {
    try {
      progress = read_checkpoint(checkpoint_path, model, *optimizer, config.data.num_classes);
    } catch (const DataError& e) {
      fmt::print(stderr, "warning: {}; the trial starts over\n", e.what());
      optimizer = build_model();
      progress = Progress{};
    }
  }
  observer.on_start(progress.iteration);

  BatchLoader loader(train_set, tc.batch_size, static_cast<uint64_t>(config.seed),
                     config.data.flip, config.data.workers, tc.iterations,
                     std::min(progress.iteration, tc.iterations), device.is_cuda());
  const TrainStep train_step(config, config.data.num_classes);
  double& ema_normalizer = progress.ema_normalizer;
  losses::LossBreakdown breakdown(config.data.num_classes, {config.loss.hard_score});
  if (progress.breakdown.iterations > 0) breakdown.restore(progress.breakdown, device);
  losses::LossHistogram histogram;

  TrialOutcome outcome;
  outcome.class_names = train_set->class_names();
  const auto start = Clock::now();
  auto interval_start = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(progress.interval_seconds));
  StepLog& acc = progress.acc;
  int64_t& acc_n = progress.acc_n;
  double& data_seconds = progress.data_seconds;  // waiting for the loader, this interval
  int64_t last_checkpoint = progress.iteration;
  auto checkpoint = [&](int64_t completed) {
    if (checkpoint_path.empty()) return;
    progress.iteration = completed;
    progress.interval_seconds = seconds_since(interval_start);
    progress.breakdown = breakdown.take();
    try {
      write_checkpoint(checkpoint_path, model, *optimizer, progress);
    } catch (const DataError& e) {
      // a full disk or a file size limit: storage failing, like the database (exit 4)
      throw StoreError(e.what());
    }
    breakdown.restore(progress.breakdown, device);
    last_checkpoint = completed;
    observer.on_checkpoint(checkpoint_path, completed);
  };
  for (int64_t it = progress.iteration + 1; it <= tc.iterations; ++it) {
    if (observer.stop_requested()) {
      checkpoint(it - 1);
      throw InterruptedError("stop requested");
    }
    const auto wait_start = Clock::now();
    Batch batch = loader.next();
    data_seconds += seconds_since(wait_start);

    const double lr = learning_rate(tc, it - 1);
    StepInput input;
    // Non-blocking: from pinned memory (CUDA) the copy overlaps the host's work; on the CPU
    // these are no-ops.
    const auto on_device = torch::TensorOptions().device(device);
    input.images = batch.images.to(on_device, /*non_blocking=*/true);
    for (size_t i = 0; i < batch.boxes.size(); ++i) {
      input.gt_boxes.push_back(batch.boxes[i].to(on_device, true));
      input.gt_classes.push_back(batch.classes[i].to(on_device, true));
      input.crowd_boxes.push_back(batch.crowd_boxes[i].to(on_device, true));
    }
    const StepLosses step = train_step.losses(model, input, ema_normalizer, &breakdown);
    const auto& loss_cls = step.loss_cls;
    const auto& loss_box = step.loss_box;
    const auto& loss = step.loss;
    const double num_pos = step.num_pos, normalizer = step.normalizer;

    // The first iteration is an interval of its own: its loss accounting is the state at the
    // prior initialization, before any learning (the report's "at init" share).
    const bool last_of_interval = it == 1 || it % tc.log_every == 0 || it == tc.iterations;
    if (last_of_interval) {
      // The loss histogram, from the element-wise loss of this iteration's scored anchors.
      train_step.record_histogram(step, histogram);
    }

    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value)) {
      outcome.status = TrialStatus::kDiverged;
      outcome.diverged_at = it;
      StepLog s;
      s.iteration = it;
      s.lr = lr;
      s.loss_cls = loss_cls.item<double>();
      s.loss_box = loss_box.item<double>();
      s.loss_total = loss_value;
      s.num_pos = num_pos;
      s.normalizer = normalizer;
      observer.on_interval(s, breakdown.take(), histogram.take());
      outcome.train_seconds = seconds_since(start);
      return outcome;
    }
    train_step.update(step, *optimizer, lr);

    acc.lr = lr;
    acc.loss_cls += loss_cls.item<double>();
    acc.loss_box += loss_box.item<double>();
    acc.loss_total += loss_value;
    acc.num_pos += num_pos;
    acc.normalizer += normalizer;
    ++acc_n;
    observer.on_iteration(it, tc.iterations, loss_value, lr);
    if (last_of_interval) {
      const double count = static_cast<double>(acc_n);
      acc.iteration = it;
      acc.loss_cls /= count;
      acc.loss_box /= count;
      acc.loss_total /= count;
      acc.num_pos /= count;
      acc.normalizer /= count;
      acc.ms_per_iter = 1000.0 * seconds_since(interval_start) / count;
      acc.data_ms = 1000.0 * data_seconds / count;
      observer.on_interval(acc, breakdown.take(), histogram.take());
      acc = StepLog{};
      acc_n = 0;
      data_seconds = 0;
      if (tc.eval_every > 0 && it % tc.eval_every == 0 && it < tc.iterations) {
        observer.on_evaluation(it, evaluate_model(model, config, *val_set, device),
                               outcome.class_names);
      }
      interval_start = Clock::now();
      if (it == tc.iterations ||
          (tc.checkpoint_every > 0 && it - last_checkpoint >= tc.checkpoint_every)) {
        checkpoint(it);
      }
    }
  }
  outcome.train_seconds = seconds_since(start);
  const auto eval_start = Clock::now();
  outcome.val = evaluate_model(model, config, *val_set, device);
  outcome.eval_seconds = seconds_since(eval_start);
  return outcome;
}

losses::ClassificationLossOptions classification_loss_options(const LossConfig& loss) {
  switch (loss.kind) {
    case LossKind::kCe: return losses::CrossEntropyOptions{};
    case LossKind::kAlphaCe: return losses::AlphaBalancedCrossEntropyOptions{loss.alpha};
    case LossKind::kFocal: return losses::FocalLossOptions{loss.gamma, loss.alpha};
    case LossKind::kFocalStar:
      return losses::FocalStarOptions{loss.gamma_star, loss.beta, loss.alpha};
    case LossKind::kOhem:
      return losses::OhemOptions{loss.ohem_batch_size, loss.ohem_nms, loss.ohem_pos_fraction};
  }
  throw ConfigError(fmt::format("loss.kind: {} has no classification loss",
                                static_cast<int>(loss.kind)));
}

CocoSummary evaluate_model(models::RetinaNet& model, const TrialConfig& config,
                           const DetectionDataset& val_set, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  const models::BoxCoder box_coder = box_coder_for(config.model);
  const auto pp = postprocess_options(config.model);
  std::vector<Detection> dts;
  double inference_seconds = 0;
  const int64_t batch_size = std::max<int64_t>(1, config.train.batch_size);
  for (int64_t start = 0; start < val_set.size(); start += batch_size) {
    std::vector<Sample> samples;
    for (int64_t i = start; i < std::min(val_set.size(), start + batch_size); ++i) {
      samples.push_back(val_set.get(i));
    }
    Batch batch = collate(samples);
    const auto batch_start = Clock::now();
    auto out = model->forward(batch.images.to(device));
    for (size_t i = 0; i < samples.size(); ++i) {
      const int64_t id = batch.image_ids[i];
      const auto idx = static_cast<int64_t>(i);
      const auto size = batch.image_sizes[i];
      auto det = models::postprocess_detections(out.cls_logits[idx], out.box_deltas[idx],
                                                out.anchors, out.anchors_per_level, size.first,
                                                size.second, box_coder, pp);
      auto boxes = det.boxes.to(torch::kCPU, torch::kFloat);
      if (batch.original_sizes[i] != size) {
        boxes = models::resize_boxes(boxes, size, batch.original_sizes[i]);
      }
      boxes = boxes.contiguous();
      auto scores = det.scores.to(torch::kCPU, torch::kFloat).contiguous();
      auto labels = det.labels.to(torch::kCPU).contiguous();
      for (int64_t d = 0; d < boxes.size(0); ++d) {
        const float* b = boxes.data_ptr<float>() + 4 * d;
        dts.push_back({id, labels.data_ptr<int64_t>()[d], EvalBox::corners(b[0], b[1], b[2], b[3]),
                       static_cast<double>(scores.data_ptr<float>()[d])});
      }
    }
    // the detections are on the host: the device's work for the batch is done
    inference_seconds += seconds_since(batch_start);
  }
  if (was_training) model->train();
  CocoSummary summary = val_set.evaluate(dts, kBootstrapResamples);
  if (val_set.size() > 0) {
    summary.ms_per_image = 1000.0 * inference_seconds / static_cast<double>(val_set.size());
  }
  return summary;
}

}  // namespace train
}  // namespace focalab::harness
