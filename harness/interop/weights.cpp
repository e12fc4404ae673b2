#include "harness/interop/weights.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <map>
#include <regex>
#include <set>

#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace interop {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string strip_module(const std::string& name) {
  return starts_with(name, "module.") ? name.substr(7) : name;
}

// Everything the module holds that a checkpoint should provide. pixel_mean / pixel_std come from
// the config, not from checkpoints.
StateDict model_tensors(torch::nn::Module& module) {
  StateDict out;
  for (const auto& p : module.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) {
    if (b.key() == "pixel_mean" || b.key() == "pixel_std") continue;
    out.emplace_back(b.key(), b.value());
  }
  return out;
}

std::string list(const std::vector<std::string>& names) {
  const size_t shown = std::min<size_t>(names.size(), 6);
  std::string s = fmt::format("{}", fmt::join(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(shown), ", "));
  if (names.size() > shown) s += fmt::format(" and {} more", names.size() - shown);
  return s;
}

// Copies `state` (already in focalab names) into `module`, strictly.
void copy_strict(torch::nn::Module& module, const std::vector<std::pair<std::string, torch::Tensor>>& state,
                 const std::string& path, const std::string& layout) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& [name, t] : model_tensors(module)) targets.emplace(name, t);
  std::vector<std::string> unexpected, mismatched, missing;
  std::set<std::string> seen;
  for (const auto& [name, tensor] : state) {
    auto it = targets.find(name);
    if (it == targets.end()) {
      unexpected.push_back(name);
      continue;
    }
    seen.insert(name);
    if (it->second.sizes() != tensor.sizes()) {
      mismatched.push_back(fmt::format("{} (checkpoint [{}], model [{}])", name,
                                       fmt::join(tensor.sizes(), ", "),
                                       fmt::join(it->second.sizes(), ", ")));
    }
  }
  for (const auto& [name, tensor] : targets) {
    if (!seen.count(name)) missing.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::vector<std::string> parts;
    if (!mismatched.empty()) parts.push_back(fmt::format("{} mis-shaped: {}", mismatched.size(), list(mismatched)));
    if (!missing.empty()) parts.push_back(fmt::format("{} missing: {}", missing.size(), list(missing)));
    if (!unexpected.empty()) parts.push_back(fmt::format("{} unexpected: {}", unexpected.size(), list(unexpected)));
    throw DataError(fmt::format("{}: {} checkpoint does not fit the model ({}); check the "
                                "architecture (backbone, number of classes, anchors, head)",
                                path, layout, fmt::join(parts, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : state) {
    auto& target = targets.at(name);
    target.copy_(tensor.to(target.dtype()));
  }
}

bool is_ignorable(const std::string& name) {
  // BatchNorm's step counter carries nothing frozen or trained BN needs.
  return name.size() >= 20 && name.compare(name.size() - 20, 20, ".num_batches_tracked") == 0;
}

}  // namespace

std::string torchvision_to_focalab_name(const std::string& raw, bool group_norm) {
  const std::string name = strip_module(raw);
  if (starts_with(name, "backbone.body.")) return "backbone." + name.substr(14);
  static const std::regex kFpnBlock(R"(backbone\.fpn\.(inner_blocks|layer_blocks)\.(\d{1,9})\.(?:0\.)?(weight|bias))");
  static const std::regex kExtra(R"(backbone\.fpn\.extra_blocks\.(p6|p7)\.(weight|bias))");
  static const std::regex kTowerNew(R"(head\.(classification_head|regression_head)\.conv\.(\d{1,9})\.(0|1)\.(weight|bias))");
  static const std::regex kTowerOld(R"(head\.(classification_head|regression_head)\.conv\.(\d{1,9})\.(weight|bias))");
  static const std::regex kFinal(R"(head\.(classification_head\.cls_logits|regression_head\.bbox_reg)\.(weight|bias))");
  std::smatch m;
  if (std::regex_match(name, m, kFpnBlock)) return fmt::format("fpn.{}.{}.{}", m[1].str(), m[2].str(), m[3].str());
  if (std::regex_match(name, m, kExtra)) return fmt::format("fpn.{}.{}", m[1].str(), m[2].str());
  if (std::regex_match(name, m, kTowerNew)) {
    // torchvision >= 0.13: conv.j is Conv2dNormActivation(conv [, GroupNorm], ReLU)
    const int64_t j = std::stoll(m[2].str());
    const int64_t sub = std::stoll(m[3].str());
    const int64_t index = j * (group_norm ? 3 : 2) + sub;
    return fmt::format("head.{}.conv.{}.{}", m[1].str(), index, m[4].str());
  }
  if (std::regex_match(name, m, kTowerOld)) {
    // torchvision < 0.13: conv = Sequential(conv, ReLU, conv, ReLU, ...), focalab's layout
    return fmt::format("head.{}.conv.{}.{}", m[1].str(), m[2].str(), m[3].str());
  }
  if (std::regex_match(name, m, kFinal)) return fmt::format("head.{}.{}", m[1].str(), m[2].str());
  return "";
}

HeadShape infer_head_shape(const StateDict& state) {
  HeadShape shape;
  std::set<int64_t> towers;
  static const std::regex kTower(R"((?:module\.)?head\.classification_head\.conv\.(\d{1,9})\.(?:(\d{1,9})\.)?weight)");
  int64_t cls_out = 0, reg_out = 0;
  for (const auto& [name, t] : state) {
    const std::string n = strip_module(name);
    std::smatch m;
    if (t.dim() != 4 && (n == "head.classification_head.cls_logits.weight" ||
                         n == "head.regression_head.bbox_reg.weight")) {
      continue;  // not a conv weight: no head shape to read
    }
    if (n == "head.classification_head.cls_logits.weight") cls_out = t.size(0);
    if (n == "head.regression_head.bbox_reg.weight") reg_out = t.size(0);
    if (std::regex_match(n, m, kTower)) {
      if (t.dim() == 1) shape.group_norm = true;  // a GroupNorm weight
      else towers.insert(std::stoll(m[1].str()));
    }
  }
  if (reg_out > 0 && reg_out % 4 == 0) {
    shape.num_anchors = reg_out / 4;
    if (cls_out % shape.num_anchors == 0) shape.num_classes = cls_out / shape.num_anchors;
    if (shape.num_classes > 100000) shape.num_classes = 0;  // not a plausible head
  }
  shape.num_convs = static_cast<int64_t>(towers.size());
  return shape;
}

std::string load_model_weights(models::RetinaNet& model, const std::string& path) {
  return load_model_weights(model, read_state_dict(path), path);
}

std::string load_model_weights(models::RetinaNet& model, const StateDict& state,
                               const std::string& path) {
  bool torchvision = false;
  for (const auto& [name, t] : state) {
    const std::string n = strip_module(name);
    if (starts_with(n, "backbone.body.") || starts_with(n, "backbone.fpn.")) torchvision = true;
  }
  const bool gn = model->options().head.norm == models::HeadNorm::kGroupNorm;
  std::vector<std::pair<std::string, torch::Tensor>> mapped;
  for (const auto& [name, t] : state) {
    if (is_ignorable(name)) continue;
    std::string target = torchvision ? torchvision_to_focalab_name(name, gn) : strip_module(name);
    mapped.emplace_back(target.empty() ? name : target, t);
  }
  const std::string layout = torchvision ? "torchvision-retinanet" : "focalab";
  copy_strict(*model, mapped, path, layout);
  return layout;
}

void load_backbone_weights(models::ResNet& backbone, const std::string& path) {
  const StateDict state = read_state_dict(path);
  std::vector<std::pair<std::string, torch::Tensor>> mapped;
  for (const auto& [raw, t] : state) {
    std::string name = strip_module(raw);
    if (starts_with(name, "backbone.body.")) {
      name = name.substr(14);  // a torchvision detection checkpoint
    } else if (starts_with(name, "backbone.fpn.")) {
      continue;
    } else if (starts_with(name, "backbone.")) {
      name = name.substr(9);  // a focalab checkpoint
    } else if (starts_with(name, "fpn.") || starts_with(name, "head.")) {
      continue;
    }
    if (starts_with(name, "fc.") || is_ignorable(name)) continue;  // the ImageNet classifier
    mapped.emplace_back(name, t);
  }
  copy_strict(*backbone, mapped, path, "ResNet backbone");
}

void write_model_weights(models::RetinaNet& model, const std::string& path) {
  write_state_dict(path, model_tensors(*model));
}

}  // namespace interop
}  // namespace focalab::harness
