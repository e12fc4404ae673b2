#include "harness/config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>

#include <yaml-cpp/depthguard.h>

#include "harness/config/claims.h"
#include "harness/config/presets.h"
#include "harness/config/reference.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"

namespace focalab::harness {
inline namespace config {

namespace fs = std::filesystem;

constexpr const char* kTorchvisionScheme = "torchvision://";

// Generated from experiments/configs/*.yaml by CMake (cmake/preset_data.cpp.in).
extern const char* const kPresetYaml[];
extern const char* const kPresetNames[];
extern const int kNumPresets;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

enum class Kind { kInt, kFloat, kBool, kString, kFloatList, kIntList };

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

struct Range {
  double lo = -kInf;
  double hi = kInf;
  bool lo_open = false;  // lo itself excluded
};

struct Field {
  std::string path;
  Kind kind = Kind::kInt;
  std::string help;
  Range range;
  std::vector<std::string> choices;
  std::function<ConfigValue(const TrialConfig&)> get;
  std::function<void(TrialConfig&, const ConfigValue&)> set;

  std::string allowed() const {
    if (!choices.empty()) {
      std::string s = "one of ";
      for (size_t i = 0; i < choices.size(); ++i) s += (i ? ", " : "") + choices[i];
      return s;
    }
    if (kind == Kind::kBool) return "true or false";
    if (kind == Kind::kString) return "a string";
    std::string what = (kind == Kind::kInt || kind == Kind::kIntList) ? "an integer" : "a number";
    if (kind == Kind::kFloatList || kind == Kind::kIntList) what = "a list of " + what.substr(what.find(' ') + 1) + "s";
    if (range.lo > -kInf && range.hi < kInf) {
      return fmt::format("{} in {}{}, {}]", what, range.lo_open ? "(" : "[", range.lo, range.hi);
    }
    if (range.lo > -kInf) return fmt::format("{} {} {}", what, range.lo_open ? ">" : ">=", range.lo);
    if (range.hi < kInf) return fmt::format("{} <= {}", what, range.hi);
    return what;
  }
};

template <class T>
constexpr Kind kind_of() {
  if constexpr (std::is_same_v<T, int64_t>) return Kind::kInt;
  else if constexpr (std::is_same_v<T, double>) return Kind::kFloat;
  else if constexpr (std::is_same_v<T, bool>) return Kind::kBool;
  else if constexpr (std::is_same_v<T, std::string>) return Kind::kString;
  else if constexpr (std::is_same_v<T, std::vector<double>>) return Kind::kFloatList;
  else return Kind::kIntList;
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
    t.push_back(field("data.kind", &C::data, &DataConfig::kind,
                      "dataset: the built-in synthetic benchmark, or a COCO-format dataset "
                      "(instances JSON + image folder)", {}, {"synthetic", "coco"}));
    t.push_back(field("data.image_size", &C::data, &DataConfig::image_size,
                      "synthetic: square image side in pixels, a multiple of 128", {128, 4096}));
    t.push_back(field("data.num_classes", &C::data, &DataConfig::num_classes,
                      "synthetic: number of object classes: shapes (6), or shape x hue with "
                      "data.class_colors > 1 (at most 6 x class_colors)", {1, 6 * 24}));
    t.push_back(field("data.class_colors", &C::data, &DataConfig::class_colors,
                      "synthetic: hues that tell classes apart: class k is shape k mod 6 in hue "
                      "floor(k / 6) of this many evenly spaced hues; 1 = any hue (shape only)",
                      {1, 24}));
    t.push_back(field("data.train_images", &C::data, &DataConfig::train_images,
                      "synthetic: images in the train split", {1, 1e9}));
    t.push_back(field("data.val_images", &C::data, &DataConfig::val_images,
                      "synthetic: images in the val split", {1, 1e7}));
    t.push_back(field("data.min_objects", &C::data, &DataConfig::min_objects,
                      "synthetic: objects per image, lower bound", {0, 100}));
    t.push_back(field("data.max_objects", &C::data, &DataConfig::max_objects,
                      "synthetic: objects per image, upper bound", {0, 100}));
    t.push_back(field("data.min_object_size", &C::data, &DataConfig::min_object_size,
                      "synthetic: object side lower bound, pixels", {4, 4096}));
    t.push_back(field("data.max_object_size", &C::data, &DataConfig::max_object_size,
                      "synthetic: object side upper bound, pixels", {4, 4096}));
    t.push_back(field("data.clutter", &C::data, &DataConfig::clutter,
                      "synthetic: background clutter strength", {0, 1}));
    t.push_back(field("data.noise", &C::data, &DataConfig::noise,
                      "synthetic: std of per-pixel Gaussian noise", {0, 1}));
    t.push_back(field("data.class_imbalance", &C::data, &DataConfig::class_imbalance,
                      "synthetic: class k is drawn with weight (k + 1)^-this (Zipf); 0 = "
                      "uniform", {0, 4}));
    t.push_back(field("data.distractors", &C::data, &DataConfig::distractors,
                      "synthetic: saturated object-like shapes of no class per image (hard "
                      "negatives)", {0, 100}));
    t.push_back(field("data.max_overlap", &C::data, &DataConfig::max_overlap,
                      "synthetic: max IoU between objects; later objects occlude earlier ones",
                      {0, 1}));
    t.push_back(field("data.seed", &C::data, &DataConfig::seed,
                      "synthetic: dataset seed (same data for every trial)", {0, 9.0e15}));
    t.push_back(field("data.root", &C::data, &DataConfig::root,
                      "coco: folder the relative data.train / data.val paths are under (e.g. "
                      "data.root=/data/coco); empty = the working directory; not part of the "
                      "trial key"));
    t.push_back(field("data.train.annotations", &C::data, &DataConfig::train_annotations,
                      "coco: train instances JSON (relative paths: to data.root)"));
    t.push_back(field("data.train.images", &C::data, &DataConfig::train_image_dir,
                      "coco: folder of the train images (file_name is relative to it)"));
    t.push_back(field("data.val.annotations", &C::data, &DataConfig::val_annotations,
                      "coco: val instances JSON, evaluated after training"));
    t.push_back(field("data.val.images", &C::data, &DataConfig::val_image_dir,
                      "coco: folder of the val images"));
    t.push_back(field("data.min_size", &C::data, &DataConfig::min_size,
                      "coco: shorter image side after resizing (Detectron 800; paper Table 1 "
                      "600)", {32, 4096}));
    t.push_back(field("data.max_size", &C::data, &DataConfig::max_size,
                      "coco: longer image side bound after resizing (Detectron 1333)",
                      {32, 8192}));
    t.push_back(field("data.keep_empty", &C::data, &DataConfig::keep_empty,
                      "coco: keep train images without annotations (Detectron and detectron2 "
                      "drop them; val keeps all)"));
    t.push_back(field("data.on_bad", &C::data, &DataConfig::on_bad,
                      "coco: missing/unreadable images and invalid annotations: skip them "
                      "(counted and reported) or stop with an error (exit 3)", {},
                      {"skip", "error"}));
    t.push_back(field("data.flip", &C::data, &DataConfig::flip,
                      "probability of a horizontal flip of each training image (the paper's "
                      "only augmentation)", {0, 1}));
    t.push_back(field("data.workers", &C::data, &DataConfig::workers,
                      "batches loaded ahead by background threads; 0 = load in the training "
                      "thread (not part of the trial key)", {0, 64}));
    // model
    t.push_back(field("model.backbone", &C::model, &ModelConfig::backbone, "ResNet preset", {},
                      {"tiny", "resnet18", "resnet34", "resnet50", "resnet101"}));
    t.push_back(field("model.norm", &C::model, &ModelConfig::norm,
                      "backbone batch norm: frozen (torchvision detection) or trained", {},
                      {"frozen_bn", "bn"}));
    t.push_back(field("model.frozen_stages", &C::model, &ModelConfig::frozen_stages,
                      "frozen backbone stages: 0 none, 1 stem, k stem + layer1..k-1", {0, 5}));
    t.push_back(field("model.backbone_weights", &C::model, &ModelConfig::backbone_weights,
                      "ImageNet ResNet state_dict (torch.save .pth, torchvision layout) that "
                      "initializes the backbone, or torchvision://resnet50 (18, 34, 101) for "
                      "torchvision's from its download cache ($TORCH_HOME/hub/checkpoints); "
                      "empty = random init (paper: ImageNet)", {}, {}));
    t.push_back(field("model.fpn_channels", &C::model, &ModelConfig::fpn_channels,
                      "channels of P3..P7 and the heads (paper 256)", {1, 4096}));
    t.push_back(field("model.p6_from", &C::model, &ModelConfig::p6_from,
                      "input of the P6 conv: c5 (paper) or p5 (torchvision)", {}, {"c5", "p5"}));
    t.push_back(field("model.head_convs", &C::model, &ModelConfig::head_convs,
                      "hidden 3x3 convs per head subnet (paper 4)", {0, 16}));
    t.push_back(field("model.head_norm", &C::model, &ModelConfig::head_norm,
                      "normalization in the head subnets: none (paper) or gn (GroupNorm 32, "
                      "detectron2 RETINANET.NORM)",
                      {}, {"none", "gn"}));
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
    t.push_back(field("model.low_quality", &C::model, &ModelConfig::low_quality,
                      "rescue of GTs whose best anchor is below fg_iou: above_bg (Detectron, "
                      "paper: if IoU >= bg_iou), any (torchvision, detectron2), none",
                      {}, {"none", "any", "above_bg"}));
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
    t.push_back(field("loss.kind", &C::loss, &LossConfig::kind, "classification loss", {},
                      {"ce", "alpha_ce", "focal", "focal_star", "ohem"}));
    t.push_back(field("loss.gamma", &C::loss, &LossConfig::gamma,
                      "focal: focusing parameter (paper 2)", {0, 20}));
    t.push_back(field("loss.alpha", &C::loss, &LossConfig::alpha,
                      "alpha_ce/focal: positive weight (paper 0.25); < 0 disables", {-1, 1}));
    t.push_back(field("loss.gamma_star", &C::loss, &LossConfig::gamma_star,
                      "focal_star: gamma* of FL* = -log(sigmoid(gamma* x_t + beta)) / gamma* "
                      "(paper Table 3: 4 or 2)",
                      {0, 100, true}));
    t.push_back(field("loss.beta", &C::loss, &LossConfig::beta,
                      "focal_star: beta of FL* (paper Table 3: 0 with gamma* 4, 1 with 2)",
                      {-100, 100}));
    t.push_back(field("loss.ohem_batch_size", &C::loss, &LossConfig::ohem_batch_size,
                      "ohem: highest-CE anchors kept per image after NMS (paper 128/256/512)",
                      {1, 1e7}));
    t.push_back(field("loss.ohem_nms", &C::loss, &LossConfig::ohem_nms,
                      "ohem: NMS IoU over scored anchors' predicted boxes (paper .7/.5)", {0, 1}));
    t.push_back(field("loss.ohem_pos_fraction", &C::loss, &LossConfig::ohem_pos_fraction,
                      "ohem: 0 = free; 0.25 = the OHEM 1:3 variant: positives first, at most a "
                      "quarter of the batch",
                      {0, 1}));
    t.push_back(field("loss.normalizer", &C::loss, &LossConfig::normalizer,
                      "divisor of the losses: num_pos (paper: positives in the batch), detectron "
                      "(sum of num_fg + 1 per image), per_image (torchvision), ema (detectron2)",
                      {}, {"num_pos", "detectron", "per_image", "ema"}));
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
    t.push_back(field("train.amp", &C::train, &TrainConfig::amp,
                      "mixed precision: autocast of the forward pass to bf16 (CPU or CUDA) or "
                      "fp16 (CUDA, with dynamic loss scaling); the losses stay float32; off = "
                      "float32 throughout (part of the trial key only when not off)",
                      {}, {"off", "bf16", "fp16"}));
    t.push_back(field("train.log_every", &C::train, &TrainConfig::log_every,
                      "iterations between step logs and loss-breakdown flushes (iteration 1 is "
                      "logged alone: the state at init)", {1, 1e9}));
    t.push_back(field("train.checkpoint_every", &C::train, &TrainConfig::checkpoint_every,
                      "iterations between checkpoints, written at the end of a logging "
                      "interval (and at the end, and on SIGINT/SIGTERM/SIGUSR1); 0 = only those; "
                      "not part of the trial key", {0, 1e9}));
    t.push_back(field("train.eval_every", &C::train, &TrainConfig::eval_every,
                      "iterations between COCO evaluations on val during training (at the end "
                      "of a logging interval; stored with their iteration); 0 = only the final "
                      "one; not part of the trial key", {0, 1e9}));
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
  const bool below = f.range.lo_open ? v <= f.range.lo : v < f.range.lo;
  if (below || v > f.range.hi) {
    fail(origin, f.path, fmt::format("{} is out of range; allowed: {}", s, f.allowed()));
  }
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
      if (!f.choices.empty() &&
          std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) {
        fail(origin, f.path, fmt::format("'{}' is not allowed; allowed: {}{}", s, f.allowed(),
                                         did_you_mean(s, f.choices)));
      }
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

// Flattens {loss: {gamma: 2}} and {loss.gamma: 2} alike into (path, node) pairs.
void flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
             std::vector<SweepSpec::Setting>& out) {
  for (const auto& kv : node) {
    const std::string key = key_text(kv.first, file, prefix.empty() ? "key" : prefix);
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (find_field(path)) {
      out.push_back({path, kv.second, origin_of(kv.first, file)});
    } else if (kv.second.IsMap()) {
      flatten(kv.second, path, file, out);
    } else {
      fail(origin_of(kv.first, file), path,
           fmt::format("unknown key{}", did_you_mean(path, field_paths())));
    }
  }
}

// yaml-cpp's parser recurses once per level of nesting and stops at 500 levels (its DepthGuard),
// with the message "bad file"; say what is wrong instead.
std::string yaml_problem(const YAML::Exception& e) {
  if (dynamic_cast<const YAML::DeepRecursion*>(&e)) return "nested deeper than 500 levels";
  return e.msg;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The top-level keys of a sweep file, in the order the "allowed:" message lists them.
const std::vector<std::string> kTopKeys = {"name",   "description", "base",  "reference", "claims",
                                           "threads", "jobs",       "device", "seed",     "data",
                                           "model",  "loss",        "train", "sweep"};

// The text of a preset compiled in (kPresetNames: file names in experiments/configs/), or null.
const char* preset_text(const std::string& file_name) {
  for (int i = 0; i < kNumPresets; ++i) {
    if (file_name == kPresetNames[i]) return kPresetYaml[i];
  }
  return nullptr;
}

// Applies the sweep file `path` (and its `base:` chain, first) to spec. embedded: the file and
// its bases are the presets compiled in, looked up by file name, not read from disk.
void apply_file(const fs::path& path, SweepSpec& spec, std::vector<fs::path>& chain,
                const Origin& named_at, bool embedded = false) {
  std::error_code ec;
  const char* embedded_text = embedded ? preset_text(path.filename().string()) : nullptr;
  if (embedded && !embedded_text) {
    throw ConfigError(fmt::format("{}: no preset '{}' in focalab (experiments/configs/)",
                                  named_at.str(), path.filename().string()));
  }
  if (!embedded && !fs::is_regular_file(path, ec)) {
    throw ConfigError(fmt::format("{}: sweep file '{}' not found{}", named_at.str(),
                                  path.string(), fs::exists(path, ec) ? " (not a file)" : ""));
  }
  const fs::path canonical = embedded ? path.lexically_normal() : fs::weakly_canonical(path, ec);
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
    std::string cycle;
    for (const auto& p : chain) cycle += p.filename().string() + " -> ";
    throw ConfigError(fmt::format("{}: base: cycle {}{}", named_at.str(), cycle,
                                  canonical.filename().string()));
  }
  chain.push_back(canonical);
  const std::string file = path.string();
  const std::string text = embedded ? std::string(embedded_text) : read_text(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}: YAML syntax error: {}", file, e.mark.line + 1,
                                  yaml_problem(e)));
  }
  if (root.IsNull()) throw ConfigError(fmt::format("{}: empty sweep file", file));
  if (!root.IsMap()) {
    throw ConfigError(fmt::format("{}:1: the top level must be a mapping of keys ({})", file,
                                  "name, loss, train, sweep, ..."));
  }
  if (root["base"]) {
    const auto base_node = root["base"];
    if (!base_node.IsScalar()) fail(origin_of(base_node, file), "base", "expected a file path");
    apply_file(path.parent_path() / base_node.Scalar(), spec, chain, origin_of(base_node, file),
               embedded);
  }
  spec.spec_text += fmt::format("# --- {} ---\n{}\n", file, text);

  for (const auto& kv : root) {
    const std::string key = key_text(kv.first, file, "top-level key");
    const YAML::Node& value = kv.second;
    const Origin origin = origin_of(kv.first, file);
    if (key == "base") continue;
    if (key == "reference") {
      // One table or a list of tables: stored comma-separated, matched in order.
      std::vector<std::string> ids;
      if (value.IsScalar()) {
        ids.push_back(value.Scalar());
      } else if (value.IsSequence()) {
        for (const auto& v : value) {
          if (!v.IsScalar()) fail(origin, key, "expected a table id like lin2017/table1b");
          ids.push_back(v.Scalar());
        }
      } else {
        fail(origin, key, "expected a table id like lin2017/table1b, or a list of them");
      }
      for (const auto& id : ids) {
        try {
          find_reference(id);
        } catch (const ConfigError& e) {
          fail(origin, key, e.what());
        }
      }
      spec.reference = fmt::format("{}", fmt::join(ids, ","));
    } else if (key == "claims") {
      parse_claims(value, file);  // checked here, at its file and line; kept as written
      spec.claims = value;
      spec.claims_file = file;
    } else if (key == "name" || key == "description" || key == "device") {
      if (!value.IsScalar()) fail(origin, key, "expected a string");
      if (key == "name") spec.name = value.Scalar();
      if (key == "description") spec.description = value.Scalar();
      if (key == "device") spec.device = value.Scalar();
    } else if (key == "threads") {
      Field f;
      f.path = "threads";
      f.range = {0, 4096};
      spec.threads = static_cast<int64_t>(parse_number(value, f, origin, true));
    } else if (key == "jobs") {
      Field f;
      f.path = "jobs";
      f.range = {1, 256};
      spec.jobs = static_cast<int64_t>(parse_number(value, f, origin, true));
    } else if (key == "seed") {
      set_value(spec.base, "seed", value, origin);
      spec.origins["seed"] = origin;
    } else if (key == "data" || key == "model" || key == "loss" || key == "train") {
      if (!value.IsMap()) fail(origin, key, "expected a mapping of keys");
      std::vector<SweepSpec::Setting> settings;
      flatten(value, key, file, settings);
      for (const auto& s : settings) {
        set_value(spec.base, s.path, s.value, s.origin);
        spec.origins[s.path] = s.origin;
      }
    } else if (key == "sweep") {
      if (!value.IsMap()) fail(origin, key, "expected a mapping with cases, grid and/or seeds");
      spec.cases.clear();
      spec.grid.clear();
      spec.seeds.clear();
      for (const auto& skv : value) {
        const std::string skey = key_text(skv.first, file, "sweep");
        const Origin sorigin = origin_of(skv.first, file);
        if (skey == "cases") {
          if (!skv.second.IsSequence()) {
            fail(sorigin, "sweep.cases", "expected a list of mappings like {loss.gamma: 2}");
          }
          for (const auto& c : skv.second) {
            if (!c.IsMap()) {
              fail(origin_of(c, file), "sweep.cases",
                   fmt::format("each case must be a mapping like {{loss.gamma: 2}}, got '{}'",
                               node_text(c)));
            }
            std::vector<SweepSpec::Setting> settings;
            flatten(c, "", file, settings);
            spec.cases.push_back(settings);
          }
        } else if (skey == "grid") {
          if (!skv.second.IsMap()) {
            fail(sorigin, "sweep.grid", "expected a mapping like {loss.gamma: [0, 1, 2]}");
          }
          std::vector<SweepSpec::Setting> keys;
          for (const auto& g : skv.second) {
            const std::string gpath = key_text(g.first, file, "sweep.grid");
            const Origin gorigin = origin_of(g.first, file);
            if (!find_field(gpath)) {
              fail(gorigin, "sweep.grid." + gpath,
                   fmt::format("unknown key{}", did_you_mean(gpath, field_paths())));
            }
            if (!g.second.IsSequence() || g.second.size() == 0) {
              fail(gorigin, "sweep.grid." + gpath, "expected a non-empty list of values");
            }
            std::vector<SweepSpec::Setting> values;
            for (const auto& v : g.second) values.push_back({gpath, v, origin_of(v, file)});
            spec.grid.emplace_back(gpath, values);
          }
        } else if (skey == "seeds") {
          if (!skv.second.IsSequence() || skv.second.size() == 0) {
            fail(sorigin, "sweep.seeds", "expected a non-empty list of integers like [1, 2, 3]");
          }
          for (const auto& s : skv.second) {
            TrialConfig scratch;
            set_value(scratch, "seed", s, origin_of(s, file));
            spec.seeds.push_back(scratch.seed);
          }
        } else {
          fail(sorigin, "sweep." + skey,
               fmt::format("unknown key; allowed: cases, grid, seeds{}",
                           did_you_mean(skey, {"cases", "grid", "seeds"})));
        }
      }
    } else {
      fail(origin, key, fmt::format("unknown top-level key{}; allowed: {}",
                                    did_you_mean(key, kTopKeys), fmt::join(kTopKeys, ", ")));
    }
  }
  chain.pop_back();
}

}  // namespace

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

std::string value_to_json(const ConfigValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return json_quote(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          return json_number(v);
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          std::string s = "[";
          for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + json_number(v[i]);
          return s + "]";
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          return fmt::format("[{}]", fmt::join(v, ","));
        } else {
          return fmt::format("{}", v);
        }
      },
      value);
}

std::vector<FieldInfo> config_fields() {
  std::vector<FieldInfo> out;
  const TrialConfig defaults;
  for (const auto& f : fields()) {
    std::string value = format_value(f.get(defaults));
    if (value.empty()) value = "\"\"";
    out.push_back({f.path, kind_name(f.kind), f.help, f.allowed(), value});
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

void finalize_config(TrialConfig& c, const std::string& where_default,
                     const std::map<std::string, Origin>& origins,
                     std::vector<std::string>* missing_inputs) {
  // The place to name for an error about `keys` ("a, b"): where the first of them was set.
  auto at = [&](const std::string& keys) {
    auto it = origins.find(keys.substr(0, keys.find(',')));
    // a key that was never set (data.train.annotations of a coco dataset): where its kind was
    if (it == origins.end() && keys.rfind("data.", 0) == 0) it = origins.find("data.kind");
    if (it == origins.end()) return where_default;
    if (it->second.file == "command line") return std::string("command line");
    return it->second.file == where_default
               ? it->second.str()
               : fmt::format("{} (for {})", it->second.str(), where_default);
  };
  auto check = [&](bool ok, const std::string& keys, const std::string& msg) {
    if (!ok) throw ConfigError(fmt::format("{}: {}: {}", at(keys), keys, msg));
  };
  if (c.data.kind == "coco") {
    for (const auto& [key, value] :
         {std::pair<const char*, const std::string*>{"data.train.annotations",
                                                     &c.data.train_annotations},
          {"data.train.images", &c.data.train_image_dir},
          {"data.val.annotations", &c.data.val_annotations},
          {"data.val.images", &c.data.val_image_dir}}) {
      check(!value->empty(), key,
            "data.kind coco needs data: {train: {annotations: A.json, images: DIR}, "
            "val: {annotations: B.json, images: DIR}}");
      std::error_code ec;
      const bool is_dir = std::string(key).find(".images") != std::string::npos;
      const std::string path = c.data.resolve(*value);
      const bool ok = is_dir ? std::filesystem::is_directory(path, ec)
                             : std::filesystem::is_regular_file(path, ec);
      if (!ok) {
        const std::string msg = fmt::format(
            "{}: {}: no such {} '{}'{}", at(key), key, is_dir ? "folder" : "file", path,
            c.data.root.empty() && path.front() != '/'
                ? " (relative to the working directory; set data.root=DIR for a dataset "
                  "elsewhere)"
                : "");
        if (!missing_inputs) throw DataError(msg);
        missing_inputs->push_back(msg);
      }
    }
    check(c.data.min_size <= c.data.max_size, "data.min_size, data.max_size",
          fmt::format("min_size ({}) must be <= max_size ({})", c.data.min_size,
                      c.data.max_size));
  }
  // Canonical form: the data.* keys of the other dataset kind (help "synthetic: ..." or
  // "coco: ...") are reset to their defaults, so that they neither change the trial key nor
  // show up as varied.
  {
    const TrialConfig defaults;
    const std::string other = c.data.kind == "coco" ? "synthetic:" : "coco:";
    for (const auto& f : fields()) {
      if (f.path.rfind("data.", 0) == 0 && f.help.rfind(other, 0) == 0) f.set(c, f.get(defaults));
    }
  }
  check(c.data.image_size % 128 == 0, "data.image_size",
        fmt::format("{} is not a multiple of 128 (the stride of P7)", c.data.image_size));
  check(c.data.num_classes <= 6 * c.data.class_colors, "data.num_classes, data.class_colors",
        fmt::format("{} classes need data.class_colors >= {} (6 shapes per hue)",
                    c.data.num_classes, (c.data.num_classes + 5) / 6));
  check(c.data.min_objects <= c.data.max_objects, "data.min_objects, data.max_objects",
        fmt::format("min ({}) must be <= max ({})", c.data.min_objects, c.data.max_objects));
  check(c.data.min_object_size <= c.data.max_object_size,
        "data.min_object_size, data.max_object_size",
        fmt::format("min ({}) must be <= max ({})", c.data.min_object_size,
                    c.data.max_object_size));
  check(c.data.max_object_size <= static_cast<double>(c.data.image_size), "data.max_object_size",
        fmt::format("{} exceeds data.image_size {}", c.data.max_object_size, c.data.image_size));
  check(c.model.anchor_sizes.size() == 5, "model.anchor_sizes",
        fmt::format("needs 5 sizes (P3..P7), got {}", c.model.anchor_sizes.size()));
  check(c.model.head_norm != "gn" || c.model.fpn_channels % 32 == 0,
        "model.head_norm, model.fpn_channels",
        fmt::format("GroupNorm(32) needs fpn_channels divisible by 32, got {}",
                    c.model.fpn_channels));
  check(!c.model.aspect_ratios.empty(), "model.aspect_ratios", "needs at least one ratio");
  check(c.model.box_weights.size() == 4, "model.box_weights",
        fmt::format("needs 4 weights (wx, wy, ww, wh), got {}", c.model.box_weights.size()));
  if (!c.model.backbone_weights.empty()) {
    std::error_code ec;
    std::string path;
    try {
      path = resolve_weights_path(c.model.backbone_weights);
    } catch (const ConfigError& e) {
      check(false, "model.backbone_weights", e.what());
    }
    const bool named = path != c.model.backbone_weights;
    auto check_input = [&](bool ok, const std::string& keys, const std::string& msg) {
      if (ok) return;
      if (!missing_inputs) check(ok, keys, msg);
      missing_inputs->push_back(fmt::format("{}: {}: {}", at(keys), keys, msg));
    };
    check_input(std::filesystem::is_regular_file(path, ec), "model.backbone_weights",
          named ? fmt::format("{} is '{}', which is missing (focalab downloads nothing: fetch it "
                              "once with torchvision, e.g. python3 -c \"import torchvision; "
                              "torchvision.models.{}(weights='IMAGENET1K_V1')\", or set "
                              "TORCH_HOME to the torch cache that has it)",
                              c.model.backbone_weights, path,
                              c.model.backbone_weights.substr(std::string(kTorchvisionScheme).size()))
                : fmt::format("no such file '{}' (expected a torch.save .pth of an ImageNet "
                              "ResNet, or torchvision://resnet50 for torchvision's)",
                              path));
  }
  check(c.model.bg_iou <= c.model.fg_iou, "model.bg_iou, model.fg_iou",
        fmt::format("bg_iou ({}) must be <= fg_iou ({})", c.model.bg_iou, c.model.fg_iou));
  for (size_t i = 1; i < c.train.lr_steps.size(); ++i) {
    check(c.train.lr_steps[i] > c.train.lr_steps[i - 1], "train.lr_steps",
          fmt::format("must be increasing, got [{}]", fmt::join(c.train.lr_steps, ", ")));
  }
  check(c.loss.kind != "alpha_ce" || c.loss.alpha >= 0, "loss.alpha",
        fmt::format("alpha_ce needs alpha in [0, 1], got {}", c.loss.alpha));
  // Canonical form: the loss.* parameters a loss kind does not use (loss_key_applies) are reset
  // — gamma to 0 and alpha to -1 (no focusing, no weighting), the others to their defaults — so
  // that equivalent configurations get equal trial keys and the report's columns stay honest.
  const TrialConfig defaults;
  for (const auto& f : fields()) {
    if (f.path.rfind("loss.", 0) != 0 || loss_key_applies(c.loss.kind, f.path)) continue;
    if (f.path == "loss.gamma") {
      c.loss.gamma = 0;
    } else if (f.path == "loss.alpha") {
      c.loss.alpha = -1;
    } else {
      f.set(c, f.get(defaults));
    }
  }
}

bool loss_key_applies(const std::string& kind, const std::string& key) {
  if (key == "loss.gamma") return kind == "focal";
  if (key == "loss.alpha") return kind == "alpha_ce" || kind == "focal" || kind == "focal_star";
  if (key == "loss.gamma_star" || key == "loss.beta") return kind == "focal_star";
  if (key.rfind("loss.ohem_", 0) == 0) return kind == "ohem";
  return true;
}

std::string config_to_json(const TrialConfig& config) {
  std::string out = "{";
  bool first = true;
  for (const auto& f : fields()) {
    // how fast or how safely, not what: not part of the trial key
    if (f.path == "data.workers" || f.path == "data.root" ||
        f.path == "train.checkpoint_every" || f.path == "train.eval_every") {
      continue;
    }
    // Added after trials were recorded: the default leaves their keys as they were.
    if (f.path == "train.amp" && config.train.amp == "off") continue;
    if (f.path == "data.class_colors" && config.data.class_colors == 1) continue;
    out += fmt::format("{}{}:{}", first ? "" : ",", json_quote(f.path), value_to_json(f.get(config)));
    first = false;
  }
  return out + "}";
}

Override parse_override(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(fmt::format("command line: override '{}' must look like key=value, e.g. "
                                  "loss.gamma=1 or train.lr_steps=[300,400]",
                                  text));
  }
  Override o;
  o.path = text.substr(0, eq);
  o.text = text;
  if (!find_field(o.path)) {
    throw ConfigError(fmt::format("command line: {}: unknown key{}", o.path,
                                  did_you_mean(o.path, field_paths())));
  }
  try {
    o.value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    std::string value = text.substr(eq + 1);
    if (value.size() > 60) value = value.substr(0, 57) + "...";  // one readable line
    throw ConfigError(fmt::format("command line: {}: cannot parse value '{}': {}", o.path, value,
                                  yaml_problem(e)));
  }
  return o;
}

SweepSpec load_sweep(const std::string& path, const std::vector<std::string>& overrides) {
  SweepSpec spec;
  spec.source_path = path;
  std::vector<fs::path> chain;
  try {
    apply_file(fs::path(path), spec, chain, Origin{"command line", 0});
  } catch (const YAML::Exception& e) {
    // a YAML shape no check above expected: still one line naming the file and the line
    throw ConfigError(fmt::format("{}:{}: {}", path, e.mark.is_null() ? 0 : e.mark.line + 1,
                                  e.msg));
  }
  if (spec.name.empty()) spec.name = fs::path(path).stem().string();

  for (const auto& text : overrides) spec.overrides.push_back(parse_override(text));
  for (const auto& o : spec.overrides) {
    set_value(spec.base, o.path, o.value, Origin{"command line", 0});
    spec.origins[o.path] = Origin{"command line", 0};
  }
  if (spec.seeds.empty()) spec.seeds.push_back(spec.base.seed);
  return spec;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (int i = 0; i < kNumPresets; ++i) {
    names.push_back(fs::path(kPresetNames[i]).stem().string());
  }
  return names;
}

TrialConfig preset_config(const std::string& name) {
  if (!preset_text(name + ".yaml")) {
    throw UsageError(fmt::format("preset '{}': no such preset; allowed: {}", name,
                                 fmt::join(preset_names(), ", ")));
  }
  SweepSpec spec;
  std::vector<fs::path> chain;
  apply_file(fs::path("experiments/configs") / (name + ".yaml"), spec, chain,
             Origin{"preset " + name, 0}, true);
  return spec.base;
}

std::string resolve_weights_path(const std::string& value) {
  if (value.rfind(kTorchvisionScheme, 0) != 0) return value;
  const std::string name = value.substr(std::string(kTorchvisionScheme).size());
  // torchvision's IMAGENET1K_V1 files (torchvision.models.resnet, the file names it downloads)
  static const std::map<std::string, std::string> kFiles = {
      {"resnet18", "resnet18-f37072fd.pth"},
      {"resnet34", "resnet34-b627a593.pth"},
      {"resnet50", "resnet50-0676ba61.pth"},
      {"resnet101", "resnet101-63fe2227.pth"}};
  const auto it = kFiles.find(name);
  if (it == kFiles.end()) {
    throw ConfigError(fmt::format("'{}': unknown torchvision weights; allowed: "
                                  "torchvision://resnet18, resnet34, resnet50, resnet101",
                                  value));
  }
  fs::path home;
  if (const char* t = std::getenv("TORCH_HOME"); t && *t) {
    home = t;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    home = fs::path(x) / "torch";
  } else {
    const char* h = std::getenv("HOME");
    home = fs::path(h && *h ? h : ".") / ".cache" / "torch";
  }
  return (home / "hub" / "checkpoints" / it->second).string();
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = 4;
  for (const auto& c : candidates) {
    // Compare against the whole key and against its last component ("gama" ~ "loss.gamma").
    size_t d = distance(word, c);
    const auto dot = c.rfind('.');
    const auto wdot = word.rfind('.');
    if (dot != std::string::npos) {
      const std::string tail = c.substr(dot + 1);
      const std::string wtail = wdot == std::string::npos ? word : word.substr(wdot + 1);
      d = std::min(d, distance(wtail, tail) + (wdot == std::string::npos ? 0 : distance(word.substr(0, wdot), c.substr(0, dot))));
    }
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace config
}  // namespace focalab::harness
