#pragma once
// The resolved configuration of one trial: every setting that can change a trial's result, with
// its default. The YAML keys are the dotted member paths (`loss.gamma`, `train.lr`, ...); the
// field table in fields.cpp documents each one and is what `focalab config keys` prints.
// Defaults follow the paper (Detectron where the paper is silent) unless stated; the synthetic
// CPU experiments override them in experiments/configs/tiny.yaml.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace focalab::harness {
inline namespace config {

// The closed sets of values. Each is parsed once, at the edge (the field table), from its YAML
// spelling; `name_of` gives the spelling back (trial keys, messages, the database).
enum class DataKind { kSynthetic, kCoco };
enum class OnBad { kSkip, kError };
enum class BackboneKind { kTiny, kResNet18, kResNet34, kResNet50, kResNet101 };
enum class BackboneNorm { kFrozenBn, kBn };
enum class P6From { kC5, kP5 };
enum class HeadNormKind { kNone, kGroupNorm };
enum class LowQuality { kNone, kAny, kAboveBg };
enum class LossKind { kCe, kAlphaCe, kFocal, kFocalStar, kOhem };
enum class LossNormalizer { kNumPos, kDetectron, kPerImage, kEma };
enum class AmpMode { kOff, kBf16, kFp16 };

// The YAML spelling of each value of E, in declaration order.
template <class E>
struct Spellings;
template <>
struct Spellings<DataKind> {
  static constexpr const char* names[] = {"synthetic", "coco"};
};
template <>
struct Spellings<OnBad> {
  static constexpr const char* names[] = {"skip", "error"};
};
template <>
struct Spellings<BackboneKind> {
  static constexpr const char* names[] = {"tiny", "resnet18", "resnet34", "resnet50", "resnet101"};
};
template <>
struct Spellings<BackboneNorm> {
  static constexpr const char* names[] = {"frozen_bn", "bn"};
};
template <>
struct Spellings<P6From> {
  static constexpr const char* names[] = {"c5", "p5"};
};
template <>
struct Spellings<HeadNormKind> {
  static constexpr const char* names[] = {"none", "gn"};
};
template <>
struct Spellings<LowQuality> {
  static constexpr const char* names[] = {"none", "any", "above_bg"};
};
template <>
struct Spellings<LossKind> {
  static constexpr const char* names[] = {"ce", "alpha_ce", "focal", "focal_star", "ohem"};
};
template <>
struct Spellings<LossNormalizer> {
  static constexpr const char* names[] = {"num_pos", "detectron", "per_image", "ema"};
};
template <>
struct Spellings<AmpMode> {
  static constexpr const char* names[] = {"off", "bf16", "fp16"};
};

template <class E>
constexpr const char* name_of(E value) {
  return Spellings<E>::names[static_cast<size_t>(value)];
}

// Every spelling of E, in declaration order.
template <class E>
std::vector<std::string> names_of() {
  return {std::begin(Spellings<E>::names), std::end(Spellings<E>::names)};
}

// The value spelled `text`, or nullopt.
template <class E>
std::optional<E> enum_named(std::string_view text) {
  for (size_t i = 0; i < std::size(Spellings<E>::names); ++i) {
    if (text == Spellings<E>::names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}


struct DataConfig {
  // dataset: synthetic (built in) | coco (instances JSON + images)
  DataKind kind = DataKind::kSynthetic;
  int64_t image_size = 128;        // synthetic: square image side, a multiple of 128 (pixels)
  int64_t num_classes = 4;         // synthetic: object classes, 1..6 x class_colors
  int64_t class_colors = 1;        // synthetic: hues a class is told by (1: shape alone)
  int64_t train_images = 4096;     // synthetic: size of the train split
  int64_t val_images = 256;        // synthetic: size of the val split
  int64_t min_objects = 1;         // synthetic: objects per image, lower bound
  int64_t max_objects = 4;         // synthetic: objects per image, upper bound
  double min_object_size = 12;     // synthetic: object side, lower bound (pixels)
  double max_object_size = 64;     // synthetic: object side, upper bound (pixels)
  double clutter = 0.5;            // synthetic: background clutter strength in [0, 1]
  double noise = 0.03;             // synthetic: std of per-pixel Gaussian noise
  double class_imbalance = 0;      // synthetic: class k drawn with weight (k + 1)^-this
  int64_t distractors = 0;         // synthetic: object-like shapes of no class, per image
  double max_overlap = 0.3;        // synthetic: max IoU between objects (occlusion)
  int64_t seed = 0;                // synthetic: dataset seed (the same data for every trial)
  std::string root;                // coco: folder the relative data.train / data.val paths are
                                   // under ("" = the working directory; not in the trial key)
  std::string train_annotations;   // coco: train instances JSON (YAML data.train.annotations)
  std::string train_image_dir;       // coco: train image folder (YAML data.train.images)
  std::string val_annotations;     // coco: val instances JSON (YAML data.val.annotations)
  std::string val_image_dir;        // coco: val image folder (YAML data.val.images)
  int64_t min_size = 800;          // coco: shorter image side after resizing (paper Table 1: 600)
  int64_t max_size = 1333;         // coco: bound of the longer side after resizing
  bool keep_empty = false;         // coco: keep train images without annotations (Detectron: no)
  OnBad on_bad = OnBad::kSkip;     // coco: bad images / annotations: skip (counted) | error
  double flip = 0.5;               // horizontal flip probability in training (the paper's only
                                   // augmentation)
  int64_t workers = 2;             // batches loaded ahead by background threads (not in the key)
  int64_t cache_mb = 1024;         // synthetic: generated images kept in memory for reuse, per
                                   // split, at most this many MiB (not in the key)

  // A data.train / data.val path as it is opened: below `root` when it is relative and root is
  // set, else as given.
  std::string resolve(const std::string& path) const {
    if (root.empty() || path.empty() || path.front() == '/') return path;
    return root.back() == '/' ? root + path : root + "/" + path;
  }
};

struct ModelConfig {
  BackboneKind backbone = BackboneKind::kResNet50;  // tiny | resnet18 | 34 | 50 | 101
  BackboneNorm norm = BackboneNorm::kFrozenBn;      // frozen_bn | bn
  int64_t frozen_stages = 2;                     // 0 none, 1 stem, k stem + layer1..k-1
  std::string backbone_weights;                  // ImageNet ResNet state_dict; "" = random init
  int64_t fpn_channels = 256;                    // channels of P3..P7 and of the heads
  P6From p6_from = P6From::kC5;                     // c5 (paper) | p5 (torchvision)
  int64_t head_convs = 4;                        // hidden convs per subnet
  HeadNormKind head_norm = HeadNormKind::kNone;     // none (paper) | gn (GroupNorm 32)
  double prior_prob = 0.01;                      // classification bias prior; 0 disables
  std::vector<double> anchor_sizes = {32, 64, 128, 256, 512};  // base size per level P3..P7
  bool anchor_integer_sizes = false;            // int(size * 2^(k/n)) as torchvision
  int64_t scales_per_octave = 3;                 // anchor scales 2^(k/n)
  std::vector<double> aspect_ratios = {0.5, 1.0, 2.0};         // anchor h/w ratios
  double fg_iou = 0.5;                           // IoU >= fg_iou: positive
  double bg_iou = 0.4;                           // IoU < bg_iou: negative
  std::vector<double> box_weights = {1.0, 1.0, 1.0, 1.0};  // box coder (wx, wy, ww, wh)
  LowQuality low_quality = LowQuality::kAboveBg;    // none | any | above_bg (Detectron)
  double score_thresh = 0.05;                    // inference score threshold
  int64_t topk_candidates = 1000;                // inference candidates per level
  double nms_thresh = 0.5;                       // inference per-class NMS IoU
  int64_t detections_per_image = 100;            // inference detections kept per image
};

struct LossConfig {
  LossKind kind = LossKind::kFocal;  // ce | alpha_ce | focal | focal_star | ohem
  double gamma = 2.0;          // focal: focusing parameter (ce/alpha_ce/ohem: 0)
  double alpha = 0.25;         // alpha_ce/focal/focal_star: positive weight; < 0 disables
  double gamma_star = 4.0;     // focal_star: gamma* of FL* (paper Table 3: 4 with beta 0)
  double beta = 0.0;           // focal_star: beta of FL*
  int64_t ohem_batch_size = 256;  // ohem: anchors kept per image (paper 128/256/512)
  double ohem_nms = 0.7;          // ohem: NMS IoU over the scored anchors' predicted boxes
  double ohem_pos_fraction = 0;   // ohem: 0 = free, 0.25 = the paper's 1:3 pos:neg variant
  LossNormalizer normalizer = LossNormalizer::kNumPos;  // num_pos | detectron | per_image | ema
  double box_beta = 0.11;      // smooth-L1 beta of the box loss; 0 = L1
  double hard_score = 0.05;    // loss accounting: negatives with p >= this are hard
};

struct TrainConfig {
  int64_t iterations = 90000;          // SGD iterations
  int64_t batch_size = 16;             // images per iteration
  double lr = 0.01;                    // base learning rate
  double momentum = 0.9;               // SGD momentum
  double weight_decay = 1e-4;          // L2 weight decay
  int64_t warmup_iters = 500;          // linear warmup length (Detectron)
  double warmup_factor = 1.0 / 3.0;    // warmup starts at lr * warmup_factor
  std::vector<int64_t> lr_steps = {60000, 80000};  // iterations where lr is multiplied by lr_gamma
  double lr_gamma = 0.1;               // lr step factor
  double clip_grad_norm = 0;           // max global gradient L2 norm; 0 = off (paper: off)
  AmpMode amp = AmpMode::kOff;         // mixed precision: off | bf16 | fp16 (losses in fp32)
  int64_t log_every = 20;              // iterations between step logs and loss-breakdown flushes
  int64_t checkpoint_every = 1000;     // iterations between checkpoints (not part of the key)
  int64_t eval_every = 0;              // iterations between val evaluations; 0 = at the end only
                                       // (not part of the key)
};

struct TrialConfig {
  DataConfig data;
  ModelConfig model;
  LossConfig loss;
  TrainConfig train;
  int64_t seed = 1;  // trial seed: weights init and batch order
};

}  // namespace config
}  // namespace focalab::harness
