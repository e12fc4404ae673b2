// The field table of a trial config (path, kind, range, choices, help, accessors) and the parsing
// and checking of one value; get_value / set_value / format_value and `focalab config keys`.

#include <fmt/format.h>

#include <cmath>
#include <type_traits>

#include "harness/config/config.h"
#include "harness/config/fields.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"

namespace focalab::harness {
inline namespace config {
namespace detail {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kBool: return "bool";
    case Kind::kString: return "string";
    case Kind::kFloatList: return "list of float";
    case Kind::kIntList: return "list of int";
  }
  return "?";
}

template <class T>
constexpr Kind kind_of() {
  if constexpr (std::is_same_v<T, int64_t>) return Kind::kInt;
  else if constexpr (std::is_same_v<T, double>) return Kind::kFloat;
  else if constexpr (std::is_same_v<T, bool>) return Kind::kBool;
  else if constexpr (std::is_same_v<T, std::string>) return Kind::kString;
  else if constexpr (std::is_same_v<T, std::vector<double>>) return Kind::kFloatList;
  else return Kind::kIntList;
}

std::string Field::applies_to() const {
  if (dataset) return name_of(*dataset);
  std::string out;
  for (const LossKind k : losses) out += (out.empty() ? "" : "/") + std::string(name_of(k));
  return out;
}

// A field of a closed set: the YAML spelling in and out, the enum inside.
template <class S, class E>
Field enum_field(std::string path, S TrialConfig::*section, E S::*member, std::string help) {
  Field f;
  f.path = std::move(path);
  f.kind = Kind::kString;
  f.help = std::move(help);
  f.choices = names_of<E>();
  f.get = [section, member](const TrialConfig& c) -> ConfigValue {
    return std::string(name_of((c.*section).*member));
  };
  // parse_value has checked the spelling against `choices`; this check guards other callers.
  f.set = [section, member, path = f.path](TrialConfig& c, const ConfigValue& v) {
    const std::string& text = std::get<std::string>(v);
    const auto value = enum_named<E>(text);
    if (!value) {
      throw ConfigError(fmt::format("{}: '{}' is not allowed; allowed: one of {}", path, text,
                                    fmt::join(names_of<E>(), ", ")));
    }
    (c.*section).*member = *value;
  };
  return f;
}

template <class S, class T>
Field field(std::string path, S TrialConfig::*section, T S::*member, std::string help,
            Range range = {}, std::vector<std::string> choices = {}) {
  Field f;
  f.path = std::move(path);
  f.kind = kind_of<T>();
  f.help = std::move(help);
  f.range = range;
  f.choices = std::move(choices);
  f.get = [section, member](const TrialConfig& c) -> ConfigValue { return (c.*section).*member; };
  f.set = [section, member](TrialConfig& c, const ConfigValue& v) {
    (c.*section).*member = std::get<T>(v);
  };
  return f;
}

const std::vector<Field>& fields() {
  static const std::vector<Field> table = [] {
    using C = TrialConfig;
    std::vector<Field> t;
    // data
    t.push_back(enum_field("data.kind", &C::data, &DataConfig::kind,
                      "dataset: the built-in synthetic benchmark, or a COCO-format dataset "
                      "(instances JSON + image folder)"));
    t.push_back(field("data.image_size", &C::data, &DataConfig::image_size,
                      "square image side in pixels, a multiple of 128", {128, 4096})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.num_classes", &C::data, &DataConfig::num_classes,
                      "number of object classes: shapes (6), or shape x hue with "
                      "data.class_colors > 1 (at most 6 x class_colors)", {1, 6 * 24})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.class_colors", &C::data, &DataConfig::class_colors,
                      "hues that tell classes apart: class k is shape k mod 6 in hue "
                      "floor(k / 6) of this many evenly spaced hues; 1 = any hue (shape only)",
                      {1, 24})
                    .only_for(DataKind::kSynthetic).key(InKey::kUnlessDefault));
    t.push_back(field("data.train_images", &C::data, &DataConfig::train_images,
                      "images in the train split", {1, 1e9})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.val_images", &C::data, &DataConfig::val_images,
                      "images in the val split", {1, 1e7})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.min_objects", &C::data, &DataConfig::min_objects,
                      "objects per image, lower bound", {0, 100})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.max_objects", &C::data, &DataConfig::max_objects,
                      "objects per image, upper bound", {0, 100})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.min_object_size", &C::data, &DataConfig::min_object_size,
                      "object side lower bound, pixels", {4, 4096})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.max_object_size", &C::data, &DataConfig::max_object_size,
                      "object side upper bound, pixels", {4, 4096})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.clutter", &C::data, &DataConfig::clutter,
                      "background clutter strength", {0, 1})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.noise", &C::data, &DataConfig::noise,
                      "std of per-pixel Gaussian noise", {0, 1})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.class_imbalance", &C::data, &DataConfig::class_imbalance,
                      "class k is drawn with weight (k + 1)^-this (Zipf); 0 = "
                      "uniform", {0, 4})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.distractors", &C::data, &DataConfig::distractors,
                      "saturated object-like shapes of no class per image (hard "
                      "negatives)", {0, 100})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.max_overlap", &C::data, &DataConfig::max_overlap,
                      "max IoU between objects; later objects occlude earlier ones",
                      {0, 1})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.seed", &C::data, &DataConfig::seed,
                      "dataset seed (same data for every trial)", {0, 9.0e15})
                    .only_for(DataKind::kSynthetic));
    t.push_back(field("data.root", &C::data, &DataConfig::root,
                      "folder the relative data.train / data.val paths are under (e.g. "
                      "data.root=/data/coco); empty = the working directory; not part of the "
                      "trial key")
                    .only_for(DataKind::kCoco).key(InKey::kNever));
    t.push_back(field("data.train.annotations", &C::data, &DataConfig::train_annotations,
                      "train instances JSON (relative paths: to data.root)")
                    .only_for(DataKind::kCoco));
    t.push_back(field("data.train.images", &C::data, &DataConfig::train_image_dir,
                      "folder of the train images (file_name is relative to it)")
                    .only_for(DataKind::kCoco));
    t.push_back(field("data.val.annotations", &C::data, &DataConfig::val_annotations,
                      "val instances JSON, evaluated after training")
                    .only_for(DataKind::kCoco));
    t.push_back(field("data.val.images", &C::data, &DataConfig::val_image_dir,
                      "folder of the val images")
                    .only_for(DataKind::kCoco));
    t.push_back(field("data.min_size", &C::data, &DataConfig::min_size,
                      "shorter image side after resizing (Detectron 800; paper Table 1 "
                      "600)", {32, 4096})
                    .only_for(DataKind::kCoco));
    t.push_back(field("data.max_size", &C::data, &DataConfig::max_size,
                      "longer image side bound after resizing (Detectron 1333)",
                      {32, 8192})
                    .only_for(DataKind::kCoco));
    t.push_back(field("data.keep_empty", &C::data, &DataConfig::keep_empty,
                      "keep train images without annotations (Detectron and detectron2 "
                      "drop them; val keeps all)")
                    .only_for(DataKind::kCoco));
    t.push_back(enum_field("data.on_bad", &C::data, &DataConfig::on_bad,
                      "missing/unreadable images and invalid annotations: skip them "
                      "(counted and reported) or stop with an error (exit 3)")
                    .only_for(DataKind::kCoco));
    t.push_back(field("data.flip", &C::data, &DataConfig::flip,
                      "probability of a horizontal flip of each training image (the paper's "
                      "only augmentation)", {0, 1}));
    t.push_back(field("data.workers", &C::data, &DataConfig::workers,
                      "batches loaded ahead by background threads; 0 = load in the training "
                      "thread (not part of the trial key)", {0, 64})
                    .key(InKey::kNever));
    t.push_back(field("data.cache_mb", &C::data, &DataConfig::cache_mb,
                      "generated images kept in memory, so that later epochs do not generate "
                      "them again: at most this many MiB per split (0 = none; an image of "
                      "128 px takes 0.19 MiB; not part of the trial key)", {0, 1 << 20})
                    .only_for(DataKind::kSynthetic).key(InKey::kNever));
    // model
    t.push_back(enum_field("model.backbone", &C::model, &ModelConfig::backbone, "ResNet preset"));
    t.push_back(enum_field("model.norm", &C::model, &ModelConfig::norm,
                      "backbone batch norm: frozen (torchvision detection) or trained"));
    t.push_back(field("model.frozen_stages", &C::model, &ModelConfig::frozen_stages,
                      "frozen backbone stages: 0 none, 1 stem, k stem + layer1..k-1", {0, 5}));
    t.push_back(field("model.backbone_weights", &C::model, &ModelConfig::backbone_weights,
                      "ImageNet ResNet state_dict (torch.save .pth, torchvision layout) that "
                      "initializes the backbone, or torchvision://resnet50 (18, 34, 101) for "
                      "torchvision's from its download cache ($TORCH_HOME/hub/checkpoints); "
                      "empty = random init (paper: ImageNet)", {}, {}));
    t.push_back(field("model.fpn_channels", &C::model, &ModelConfig::fpn_channels,
                      "channels of P3..P7 and the heads (paper 256)", {1, 4096}));
    t.push_back(enum_field("model.p6_from", &C::model, &ModelConfig::p6_from,
                      "input of the P6 conv: c5 (paper) or p5 (torchvision)"));
    t.push_back(field("model.head_convs", &C::model, &ModelConfig::head_convs,
                      "hidden 3x3 convs per head subnet (paper 4)", {0, 16}));
    t.push_back(enum_field("model.head_norm", &C::model, &ModelConfig::head_norm,
                      "normalization in the head subnets: none (paper) or gn (GroupNorm 32, "
                      "detectron2 RETINANET.NORM)"));
    t.push_back(field("model.prior_prob", &C::model, &ModelConfig::prior_prob,
                      "classification bias prior pi (paper 0.01); 0 disables the prior init",
                      {0, 1, false}));
    t.push_back(field("model.anchor_sizes", &C::model, &ModelConfig::anchor_sizes,
                      "anchor base size per level P3..P7 (paper 32..512)", {1, 1e5}));
    t.push_back(field("model.anchor_integer_sizes", &C::model, &ModelConfig::anchor_integer_sizes,
                      "truncate sub-octave anchor sizes to integers (torchvision: 32, 40, 50); "
                      "paper: false", {}, {}));
    t.push_back(field("model.scales_per_octave", &C::model, &ModelConfig::scales_per_octave,
                      "anchor scales per octave (paper 3)", {1, 8}));
    t.push_back(field("model.aspect_ratios", &C::model, &ModelConfig::aspect_ratios,
                      "anchor aspect ratios h/w (paper 0.5, 1, 2)", {0.01, 100}));
    t.push_back(field("model.fg_iou", &C::model, &ModelConfig::fg_iou,
                      "IoU at or above which an anchor is positive (paper 0.5)", {0, 1}));
    t.push_back(field("model.bg_iou", &C::model, &ModelConfig::bg_iou,
                      "IoU below which an anchor is negative (paper 0.4)", {0, 1}));
    t.push_back(field("model.box_weights", &C::model, &ModelConfig::box_weights,
                      "box coder weights (wx, wy, ww, wh) (paper, all implementations: 1, 1, 1, 1)",
                      {1e-3, 1e3}));
    t.push_back(enum_field("model.low_quality", &C::model, &ModelConfig::low_quality,
                      "rescue of GTs whose best anchor is below fg_iou: above_bg (Detectron, "
                      "paper: if IoU >= bg_iou), any (torchvision, detectron2), none"));
    t.push_back(field("model.score_thresh", &C::model, &ModelConfig::score_thresh,
                      "inference score threshold (paper 0.05)", {0, 1}));
    t.push_back(field("model.topk_candidates", &C::model, &ModelConfig::topk_candidates,
                      "inference candidates per level (paper 1000)", {1, 1e6}));
    t.push_back(field("model.nms_thresh", &C::model, &ModelConfig::nms_thresh,
                      "inference per-class NMS IoU (paper 0.5)", {0, 1}));
    t.push_back(field("model.detections_per_image", &C::model,
                      &ModelConfig::detections_per_image, "detections kept per image (paper 100)",
                      {1, 1e5}));
    // loss
    t.push_back(enum_field("loss.kind", &C::loss, &LossConfig::kind, "classification loss"));
    t.push_back(field("loss.gamma", &C::loss, &LossConfig::gamma,
                      "focusing parameter (paper 2)", {0, 20})
                    .only_for({LossKind::kFocal}, 0.0));
    t.push_back(field("loss.alpha", &C::loss, &LossConfig::alpha,
                      "positive weight (paper 0.25); < 0 disables", {-1, 1})
                    .only_for({LossKind::kAlphaCe, LossKind::kFocal, LossKind::kFocalStar}, -1.0));
    t.push_back(field("loss.gamma_star", &C::loss, &LossConfig::gamma_star,
                      "gamma* of FL* = -log(sigmoid(gamma* x_t + beta)) / gamma* "
                      "(paper Table 3: 4 or 2)",
                      {0, 100, true})
                    .only_for({LossKind::kFocalStar}));
    t.push_back(field("loss.beta", &C::loss, &LossConfig::beta,
                      "beta of FL* (paper Table 3: 0 with gamma* 4, 1 with 2)",
                      {-100, 100})
                    .only_for({LossKind::kFocalStar}));
    t.push_back(field("loss.ohem_batch_size", &C::loss, &LossConfig::ohem_batch_size,
                      "highest-CE anchors kept per image after NMS (paper 128/256/512)",
                      {1, 1e7})
                    .only_for({LossKind::kOhem}));
    t.push_back(field("loss.ohem_nms", &C::loss, &LossConfig::ohem_nms,
                      "NMS IoU over scored anchors' predicted boxes (paper .7/.5)", {0, 1})
                    .only_for({LossKind::kOhem}));
    t.push_back(field("loss.ohem_pos_fraction", &C::loss, &LossConfig::ohem_pos_fraction,
                      "0 = free; 0.25 = the OHEM 1:3 variant: positives first, at most a "
                      "quarter of the batch",
                      {0, 1})
                    .only_for({LossKind::kOhem}));
    t.push_back(enum_field("loss.normalizer", &C::loss, &LossConfig::normalizer,
                      "divisor of the losses: num_pos (paper: positives in the batch), detectron "
                      "(sum of num_fg + 1 per image), per_image (torchvision), ema (detectron2)"));
    t.push_back(field("loss.box_beta", &C::loss, &LossConfig::box_beta,
                      "smooth-L1 beta of the box loss (Detectron 0.11); 0 = L1", {0, 10}));
    t.push_back(field("loss.hard_score", &C::loss, &LossConfig::hard_score,
                      "loss accounting: negatives with p >= this are hard (0.05)", {0, 1}));
    // train
    t.push_back(field("train.iterations", &C::train, &TrainConfig::iterations,
                      "SGD iterations (paper 90000)", {1, 1e9}));
    t.push_back(field("train.batch_size", &C::train, &TrainConfig::batch_size,
                      "images per iteration (paper 16)", {1, 4096}));
    t.push_back(field("train.lr", &C::train, &TrainConfig::lr, "base learning rate (paper 0.01)",
                      {0, 100, true}));
    t.push_back(field("train.momentum", &C::train, &TrainConfig::momentum,
                      "SGD momentum (paper 0.9)", {0, 1}));
    t.push_back(field("train.weight_decay", &C::train, &TrainConfig::weight_decay,
                      "weight decay (paper 1e-4)", {0, 1}));
    t.push_back(field("train.warmup_iters", &C::train, &TrainConfig::warmup_iters,
                      "linear warmup iterations (Detectron 500)", {0, 1e9}));
    t.push_back(field("train.warmup_factor", &C::train, &TrainConfig::warmup_factor,
                      "warmup starts at lr x this (Detectron 1/3)", {0, 1}));
    t.push_back(field("train.lr_steps", &C::train, &TrainConfig::lr_steps,
                      "iterations where lr is multiplied by lr_gamma (paper 60k, 80k)", {1, 1e9}));
    t.push_back(field("train.lr_gamma", &C::train, &TrainConfig::lr_gamma,
                      "lr step factor (paper 0.1)", {0, 1}));
    t.push_back(field("train.clip_grad_norm", &C::train, &TrainConfig::clip_grad_norm,
                      "clip the global gradient L2 norm to this; 0 = off (paper: off; "
                      "mmdetection RetinaNet: 35)",
                      {0, 1e9}));
    t.push_back(enum_field("train.amp", &C::train, &TrainConfig::amp,
                      "mixed precision: autocast of the forward pass to bf16 (CPU or CUDA) or "
                      "fp16 (CUDA, with dynamic loss scaling); the losses stay float32; off = "
                      "float32 throughout (part of the trial key only when not off)")
                    .key(InKey::kUnlessDefault));
    t.push_back(field("train.log_every", &C::train, &TrainConfig::log_every,
                      "iterations between step logs and loss-breakdown flushes (iteration 1 is "
                      "logged alone: the state at init)", {1, 1e9}));
    t.push_back(field("train.checkpoint_every", &C::train, &TrainConfig::checkpoint_every,
                      "iterations between checkpoints, written at the end of a logging "
                      "interval (and at the end, and on SIGINT/SIGTERM/SIGUSR1); 0 = only those; "
                      "not part of the trial key", {0, 1e9})
                    .key(InKey::kNever));
    t.push_back(field("train.eval_every", &C::train, &TrainConfig::eval_every,
                      "iterations between COCO evaluations on val during training (at the end "
                      "of a logging interval; stored with their iteration); 0 = only the final "
                      "one; not part of the trial key", {0, 1e9})
                    .key(InKey::kNever));
    // seed
    Field seed;
    seed.path = "seed";
    seed.kind = Kind::kInt;
    seed.help = "trial seed: weight init and batch order (sweep.seeds overrides)";
    seed.range = {0, 9.0e15};
    seed.get = [](const TrialConfig& c) -> ConfigValue { return c.seed; };
    seed.set = [](TrialConfig& c, const ConfigValue& v) { c.seed = std::get<int64_t>(v); };
    t.push_back(seed);
    return t;
  }();
  return table;
}

const Field* find_field(const std::string& path) {
  for (const auto& f : fields()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

std::vector<std::string> field_paths() {
  std::vector<std::string> out;
  for (const auto& f : fields()) out.push_back(f.path);
  return out;
}

[[noreturn]] void fail(const Origin& origin, const std::string& key, const std::string& msg) {
  throw ConfigError(fmt::format("{}: {}{}", origin.str(), key.empty() ? "" : key + ": ", msg));
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  auto m = closest_match(word, candidates);
  return m.empty() ? "" : fmt::format(" (did you mean '{}'?)", m);
}

std::string node_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  std::stringstream ss;
  YAML::Emitter e;
  e.SetSeqFormat(YAML::Flow);
  e.SetMapFormat(YAML::Flow);
  e << node;
  return e.c_str();
}

Origin origin_of(const YAML::Node& node, const std::string& file) {
  const auto mark = node.Mark();
  return {file, mark.is_null() ? 0 : mark.line + 1};
}

// A mapping key as text; a key that is itself a list or mapping (YAML's "? [a, b]: 1") is an error.
std::string key_text(const YAML::Node& key, const std::string& file, const std::string& where) {
  if (!key.IsScalar()) {
    fail(origin_of(key, file), where,
         fmt::format("a key must be a name like loss.gamma, got '{}'", node_text(key)));
  }
  return key.Scalar();
}

void check_range(const Field& f, double v, const std::string& text, const Origin& origin) {
  const bool below = f.range.lo_open ? v <= f.range.lo : v < f.range.lo;
  if (below || v > f.range.hi) {
    fail(origin, f.path, fmt::format("{} is out of range; allowed: {}", text, f.allowed()));
  }
}

void check_choice(const Field& f, const std::string& s, const Origin& origin) {
  if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) {
    fail(origin, f.path, fmt::format("'{}' is not allowed; allowed: {}{}", s, f.allowed(),
                                     did_you_mean(s, f.choices)));
  }
}

double parse_number(const YAML::Node& node, const Field& f, const Origin& origin, bool integer) {
  if (!node.IsScalar()) {
    fail(origin, f.path, fmt::format("expected {}, got '{}'", f.allowed(), node_text(node)));
  }
  const std::string& s = node.Scalar();
  double v = 0;
  try {
    if (integer) {
      v = static_cast<double>(node.as<int64_t>());
    } else {
      v = node.as<double>();
    }
  } catch (const YAML::Exception&) {
    // a number too large for its type (1e400, 20 digits) is out of range, not malformed
    char* end = nullptr;
    const double big = std::strtod(s.c_str(), &end);
    const bool numeric = !s.empty() && end == s.c_str() + s.size() &&
                         (!integer || s.find_first_of(".eE") == std::string::npos);
    if (numeric && (std::isinf(big) || std::fabs(big) > 9.2e18)) {
      fail(origin, f.path, fmt::format("{} is out of range; allowed: {}", s, f.allowed()));
    }
    fail(origin, f.path, fmt::format("'{}' is not {}; allowed: {}", s,
                                     integer ? "an integer" : "a number", f.allowed()));
  }
  if (!std::isfinite(v)) {
    fail(origin, f.path, fmt::format("'{}' is not finite; allowed: {}", s, f.allowed()));
  }
  check_range(f, v, s, origin);
  return v;
}

ConfigValue parse_value(const Field& f, const YAML::Node& node, const Origin& origin) {
  if (!node.IsDefined() || node.IsNull()) {
    fail(origin, f.path, fmt::format("missing value; allowed: {}", f.allowed()));
  }
  switch (f.kind) {
    case Kind::kInt:
      return static_cast<int64_t>(parse_number(node, f, origin, true));
    case Kind::kFloat:
      return parse_number(node, f, origin, false);
    case Kind::kBool:
      try {
        if (node.IsScalar()) return node.as<bool>();
      } catch (const YAML::Exception&) {
      }
      fail(origin, f.path, fmt::format("'{}' is not true or false", node_text(node)));
    case Kind::kString: {
      if (!node.IsScalar()) {
        fail(origin, f.path, fmt::format("expected {}, got '{}'", f.allowed(), node_text(node)));
      }
      const std::string s = node.Scalar();
      check_choice(f, s, origin);
      return s;
    }
    case Kind::kFloatList:
    case Kind::kIntList: {
      if (!node.IsSequence()) {
        fail(origin, f.path,
             fmt::format("expected a YAML list like [1, 2], got '{}'", node_text(node)));
      }
      const bool integer = f.kind == Kind::kIntList;
      std::vector<double> d;
      std::vector<int64_t> i;
      for (const auto& item : node) {
        const double v = parse_number(item, f, origin, integer);
        d.push_back(v);
        i.push_back(static_cast<int64_t>(v));
      }
      if (integer) return i;
      return d;
    }
  }
  fail(origin, f.path, "unsupported field kind");
}

}  // namespace detail

using namespace detail;

std::string Origin::str() const {
  return line > 0 ? fmt::format("{}:{}", file, line) : file;
}

std::string format_value(const ConfigValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::vector<double>> ||
                             std::is_same_v<T, std::vector<int64_t>>) {
          return fmt::format("[{}]", fmt::join(v, ", "));
        } else {
          return fmt::format("{}", v);
        }
      },
      value);
}

namespace detail {

Json value_json(const ConfigValue& value) {
  return std::visit(
      [](const auto& v) -> Json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) {
          return json_number(v);
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          Json list = Json::array();
          for (double d : v) list.push_back(json_number(d));
          return list;
        } else {
          return v;
        }
      },
      value);
}

ConfigValue value_from_json(const Field& f, const Json& j, const Origin& origin) {
  auto text = [&] { return compact_json(j); };
  auto number = [&](const Json& n, bool integer) {
    const bool fraction = n.is_number_float() && n.get<double>() != std::trunc(n.get<double>());
    if (!n.is_number() || (integer && fraction)) {
      fail(origin, f.path, fmt::format("expected {}, got '{}'", f.allowed(), compact_json(n)));
    }
    const double v = n.get<double>();
    check_range(f, v, compact_json(n), origin);
    return v;
  };
  switch (f.kind) {
    case Kind::kInt:
      return static_cast<int64_t>(number(j, true));
    case Kind::kFloat:
      return number(j, false);
    case Kind::kBool:
      if (!j.is_boolean()) fail(origin, f.path, fmt::format("'{}' is not true or false", text()));
      return j.get<bool>();
    case Kind::kString:
      if (!j.is_string()) {
        fail(origin, f.path, fmt::format("expected {}, got '{}'", f.allowed(), text()));
      }
      check_choice(f, j.get<std::string>(), origin);
      return j.get<std::string>();
    case Kind::kFloatList:
    case Kind::kIntList: {
      if (!j.is_array()) {
        fail(origin, f.path, fmt::format("expected a list like [1, 2], got '{}'", text()));
      }
      std::vector<double> d;
      std::vector<int64_t> i;
      for (const auto& item : j) {
        const double v = number(item, f.kind == Kind::kIntList);
        d.push_back(v);
        i.push_back(static_cast<int64_t>(v));
      }
      if (f.kind == Kind::kIntList) return i;
      return d;
    }
  }
  fail(origin, f.path, "unsupported field kind");
}

}  // namespace detail

std::string value_to_json(const ConfigValue& value) { return canonical_json(value_json(value)); }

std::vector<FieldInfo> config_fields() {
  std::vector<FieldInfo> out;
  const TrialConfig defaults;
  for (const auto& f : fields()) {
    std::string value = format_value(f.get(defaults));
    if (value.empty()) value = "\"\"";
    const std::string applies = f.applies_to();
    out.push_back({f.path, kind_name(f.kind), applies.empty() ? f.help : applies + ": " + f.help,
                   f.allowed(), value, applies});
  }
  return out;
}

ConfigValue get_value(const TrialConfig& config, const std::string& path) {
  const Field* f = find_field(path);
  if (!f) {
    throw ConfigError(fmt::format("unknown key '{}'{}", path, did_you_mean(path, field_paths())));
  }
  return f->get(config);
}

void set_value(TrialConfig& config, const std::string& path, const YAML::Node& node,
               const Origin& origin) {
  const Field* f = find_field(path);
  if (!f) fail(origin, path, fmt::format("unknown key{}", did_you_mean(path, field_paths())));
  f->set(config, parse_value(*f, node, origin));
}

}  // namespace config
}  // namespace focalab::harness
