#include "harness/train/train_step.h"

#include "harness/train/ohem_sampler.h"

#include <sstream>
#include <type_traits>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include "harness/train/trainer.h"
#include "losses/box_loss.h"
#include "losses/focal_loss.h"
#include "models/anchors/anchor_labels.h"

namespace focalab::harness {
inline namespace train {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

namespace {

// The key of a parameter's state in Optimizer::state(): its TensorImpl's address, printed in
// LibTorch 1.x (c10::guts::to_string of the pointer), the pointer itself in 2.x.
template <typename Map>
typename Map::key_type state_key(const Map&, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

}  // namespace

std::unique_ptr<Sgd> make_sgd(std::vector<torch::Tensor> params, double momentum,
                              double weight_decay) {
  return std::make_unique<Sgd>(
      std::move(params), torch::optim::SGDOptions(0).momentum(momentum).weight_decay(weight_decay));
}

std::vector<torch::Tensor>& sgd_params(Sgd& sgd) { return sgd.param_groups().at(0).params(); }

void set_learning_rate(Sgd& sgd, double lr) {
  for (auto& group : sgd.param_groups()) {
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
  }
}

void clear_grads(Sgd& sgd) {
  for (auto& p : sgd_params(sgd)) p.mutable_grad() = torch::Tensor();
}

std::vector<torch::Tensor> momentum_buffers(Sgd& sgd) {
  std::vector<torch::Tensor> out;
  auto& state = sgd.state();
  for (const auto& p : sgd_params(sgd)) {
    auto it = state.find(state_key(state, p));
    out.push_back(it == state.end()
                      ? torch::Tensor()
                      : static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer());
  }
  return out;
}

void set_momentum_buffers(Sgd& sgd, const std::vector<torch::Tensor>& buffers) {
  auto& params = sgd_params(sgd);
  TORCH_CHECK(buffers.size() == params.size(), "set_momentum_buffers: ", buffers.size(),
              " buffers for ", params.size(), " parameters");
  auto& state = sgd.state();
  for (size_t i = 0; i < params.size(); ++i) {
    const auto key = state_key(state, params[i]);
    if (!buffers[i].defined()) {
      state.erase(key);
      continue;
    }
    auto s = std::make_unique<torch::optim::SGDParamState>();
    s->momentum_buffer(buffers[i]);
    state[key] = std::move(s);
  }
}

void StageTimer::start() {
  if (device_.is_cuda()) torch::cuda::synchronize();
  last_ = now_seconds();
}

void StageTimer::mark(const std::string& stage) {
  if (device_.is_cuda()) torch::cuda::synchronize();
  const double t = now_seconds();
  auto it = std::find_if(totals_.begin(), totals_.end(),
                         [&](const auto& s) { return s.first == stage; });
  if (it == totals_.end()) {
    totals_.emplace_back(stage, t - last_);
  } else {
    it->second += t - last_;
  }
  last_ = t;
}

models::BoxCoder box_coder_for(const ModelConfig& c) {
  models::BoxCoderOptions o;
  for (size_t i = 0; i < 4 && i < c.box_weights.size(); ++i) o.weights[i] = c.box_weights[i];
  return models::BoxCoder(o);
}

TrainStep::TrainStep(const TrialConfig& config, int64_t num_classes)
    : config_(config), num_classes_(num_classes), matcher_(matcher_options(config.model)),
      box_coder_(box_coder_for(config.model)),
      cls_loss_(classification_loss_options(config.loss)), amp_(amp_dtype(config.train.amp)) {}

StepLosses TrainStep::losses(models::RetinaNet& model, const StepInput& input,
                             double& ema_normalizer, losses::LossBreakdown* breakdown,
                             StageTimer* timer) const {
  StepLosses s;
  std::function<void(const char*)> mark;
  if (timer) mark = [timer](const char* stage) { timer->mark(stage); };
  {
    AutocastGuard autocast(input.images.device(), amp_);
    s.out = model->forward(input.images, mark);
  }
  if (amp_) {
    // The losses (and their accounting) in float32, as the ATen autocast recipe prescribes.
    s.out.cls_logits = s.out.cls_logits.to(torch::kFloat);
    s.out.box_deltas = s.out.box_deltas.to(torch::kFloat);
  }
  const auto& out = s.out;
  auto targets = models::label_anchors(out.anchors, input.gt_boxes, input.gt_classes, matcher_,
                                       input.crowd_boxes);
  s.max_iou = targets.max_iou;
  const int64_t n = input.images.size(0);
  auto valid = targets.labels >= 0;  // [N, R]
  auto pos = targets.labels == 1;    // [N, R]
  // Per-anchor label for the losses: its class if positive, -1 background, -2 ignored.
  auto anchor_labels =
      torch::where(pos, targets.gt_classes, torch::full_like(targets.gt_classes, -1))
          .masked_fill(~valid, -2);  // [N, R]
  if (timer) timer->mark("matching");
  if (const auto* ohem = std::get_if<losses::OhemOptions>(&cls_loss_.options())) {
    // the anchors OHEM selects; the others are ignored (-2)
    anchor_labels = select_ohem(anchor_labels, out.cls_logits, out.box_deltas, out.anchors,
                                box_coder_, *ohem);
  }
  s.anchor_labels = anchor_labels;
  // Normalizers: one scale per image (1 / its share of the normalizer).
  auto cls_pos = (anchor_labels >= 0).sum(1).to(torch::kDouble).cpu().contiguous();  // [N]
  const double* per_image_pos = cls_pos.data_ptr<double>();
  double num_pos = 0;
  for (int64_t i = 0; i < n; ++i) num_pos += per_image_pos[i];
  std::vector<double> scales(static_cast<size_t>(n));
  const auto& kind = config_.loss.normalizer;
  double normalizer = std::max(1.0, num_pos);
  if (kind == LossNormalizer::kDetectron) {
    normalizer = num_pos + static_cast<double>(n);
  } else if (kind == LossNormalizer::kEma) {
    ema_normalizer = 0.9 * ema_normalizer + 0.1 * std::max(1.0, num_pos);
    normalizer = ema_normalizer;
  }
  for (int64_t i = 0; i < n; ++i) {
    scales[static_cast<size_t>(i)] =
        kind == LossNormalizer::kPerImage
            ? 1.0 / (static_cast<double>(n) * std::max(1.0, per_image_pos[i]))
            : 1.0 / normalizer;
  }
  if (kind == LossNormalizer::kPerImage) {
    normalizer = 0;  // the equivalent single divisor, for the log
    for (double sc : scales) normalizer += sc;
    normalizer = 1.0 / normalizer;
  }
  s.num_pos = num_pos;
  s.normalizer = normalizer;
  s.loss_cls = cls_loss_.sum(out.cls_logits, anchor_labels, scales, breakdown);
  if (breakdown) {
    breakdown->finish_iteration((anchor_labels == -2).sum().item<int64_t>(), normalizer);
  }

  // Box loss on the positive anchors the classification loss sees (all of them, or OHEM's
  // selected ones), with the same per-image scales.
  const losses::BoxLossOptions box_options{config_.loss.box_beta};
  auto box_pos = anchor_labels >= 0;  // [N, R]
  s.loss_box = torch::zeros({}, out.box_deltas.options());
  for (int64_t i = 0; i < n; ++i) {
    if (per_image_pos[i] == 0) continue;
    auto p = box_pos[i];
    auto box_targets = box_coder_.encode(out.anchors.index({p}), targets.gt_boxes[i].index({p}));
    s.loss_box = s.loss_box + scales[static_cast<size_t>(i)] *
                                  losses::smooth_l1_loss_sum(out.box_deltas[i].index({p}),
                                                             box_targets, box_options);
  }
  s.loss = s.loss_cls + s.loss_box;
  if (timer) timer->mark("loss");
  return s;
}

void TrainStep::record_histogram(const StepLosses& step, losses::LossHistogram& histogram) const {
  torch::NoGradGuard no_grad;
  auto keep = step.anchor_labels >= -1;  // [N, R]
  auto logits = step.out.cls_logits.index({keep});
  auto onehot = losses::one_hot_targets(step.anchor_labels.index({keep}), num_classes_,
                                        logits.scalar_type());
  auto elem = cls_loss_.elementwise(logits, onehot);
  histogram.add(elem, logits, onehot, step.max_iou.index({keep}));
}

bool TrainStep::update(const StepLosses& step, Sgd& sgd, double lr, StageTimer* timer) const {
  clear_grads(sgd);
  if (amp_ == torch::kHalf) {
    (step.loss * scaler_.scale()).backward();
    if (timer) timer->mark("backward");
    if (!scaler_.unscale_and_check(sgd_params(sgd))) {
      if (timer) timer->mark("optimizer");
      return false;
    }
  } else {
    step.loss.backward();
    if (timer) timer->mark("backward");
  }
  if (config_.train.clip_grad_norm > 0) {
    torch::nn::utils::clip_grad_norm_(sgd_params(sgd), config_.train.clip_grad_norm);
  }
  set_learning_rate(sgd, lr);
  sgd.step();
  if (timer) timer->mark("optimizer");
  return true;
}

}  // namespace train
}  // namespace focalab::harness
