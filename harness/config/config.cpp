// The checks across a trial config's fields (finalize_config), the keys a loss kind uses, the
// canonical JSON that trial keys hash, torchvision weight names, "did you mean".

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

#include "harness/config/fields.h"
#include "harness/config/reference.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"

namespace focalab::harness {
inline namespace config {

namespace fs = std::filesystem;

constexpr const char* kTorchvisionScheme = "torchvision://";

using namespace detail;

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
  if (c.data.kind == DataKind::kCoco) {
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
  // Canonical form: the data.* keys of the other dataset kind are reset to their defaults, so
  // that they neither change the trial key nor show up as varied.
  {
    const TrialConfig defaults;
    for (const auto& f : fields()) {
      if (f.dataset && *f.dataset != c.data.kind) f.set(c, f.get(defaults));
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
  check(c.model.head_norm != HeadNormKind::kGroupNorm || c.model.fpn_channels % 32 == 0,
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
  check(c.loss.kind != LossKind::kAlphaCe || c.loss.alpha >= 0, "loss.alpha",
        fmt::format("alpha_ce needs alpha in [0, 1], got {}", c.loss.alpha));
  // Canonical form: the parameters a loss kind does not use are reset — gamma to 0 and alpha to
  // -1 (no focusing, no weighting: the table's `unused`), the others to their defaults — so that
  // equivalent configurations get equal trial keys and the report's columns stay honest.
  const TrialConfig defaults;
  for (const auto& f : fields()) {
    if (f.applies_to(c.loss.kind)) continue;
    f.set(c, f.unused ? *f.unused : f.get(defaults));
  }
}

bool loss_key_applies(LossKind kind, const std::string& key) {
  const Field* f = find_field(key);
  return !f || f->applies_to(kind);
}

bool loss_key_applies(const std::string& kind, const std::string& key) {
  const auto k = enum_named<LossKind>(kind);
  return !k || loss_key_applies(*k, key);
}

std::string config_to_json(const TrialConfig& config) {
  Json out = Json::object();
  const TrialConfig defaults;
  for (const auto& f : fields()) {
    if (f.in_key == InKey::kNever) continue;
    if (f.in_key == InKey::kUnlessDefault && f.get(config) == f.get(defaults)) continue;
    out[f.path] = value_json(f.get(config));
  }
  return canonical_json(out);
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
