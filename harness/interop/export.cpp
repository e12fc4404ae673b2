#include "harness/interop/export.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <stdexcept>

#include "harness/config/config.h"
#include "harness/interop/torch_file.h"
#include "harness/interop/weights.h"
#include "harness/util/errors.h"
#include "harness/util/paths.h"

namespace focalab::harness {
inline namespace interop {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The channels of C5 in a torchvision ResNet: 512 (basic blocks), 2048 (bottlenecks).
int64_t c5_channels(BackboneKind backbone) {
  return backbone == BackboneKind::kResNet18 || backbone == BackboneKind::kResNet34 ? 512 : 2048;
}

// A Python literal of a number: ints as ints, others with the digits that round-trip.
std::string py_number(double v) {
  if (v == std::trunc(v) && std::abs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string py_tuple(const std::vector<std::string>& items) {
  if (items.size() == 1) return "(" + items[0] + ",)";
  return "(" + fmt::format("{}", fmt::join(items, ", ")) + ")";
}

}  // namespace

ExportLayout parse_export_layout(const std::string& text, const std::string& what) {
  if (text == "auto") return ExportLayout::kAuto;
  if (text == "torchvision") return ExportLayout::kTorchvision;
  if (text == "focalab") return ExportLayout::kFocalab;
  throw UsageError(fmt::format("{} '{}': allowed auto, torchvision, focalab", what, text));
}

const char* layout_name(ExportLayout layout) {
  switch (layout) {
    case ExportLayout::kAuto: return "auto";
    case ExportLayout::kTorchvision: return "torchvision";
    case ExportLayout::kFocalab: return "focalab";
  }
  return "?";
}

std::string torchvision_unsupported(const ModelConfig& m) {
  if (m.backbone == BackboneKind::kTiny) {
    return fmt::format("model.backbone {}: torchvision builds RetinaNet on resnet18, resnet34, "
                       "resnet50 and resnet101", name_of(m.backbone));
  }
  if (m.fpn_channels != 256) {
    return fmt::format("model.fpn_channels {}: torchvision's resnet_fpn_backbone has 256",
                       m.fpn_channels);
  }
  if (m.head_convs != 4) {
    return fmt::format("model.head_convs {}: torchvision's RetinaNetHead has 4", m.head_convs);
  }
  return "";
}

std::string focalab_to_torchvision_name(const std::string& name, bool group_norm) {
  if (starts_with(name, "backbone.")) return "backbone.body." + name.substr(9);
  static const std::regex kFpnBlock(R"(fpn\.(inner_blocks|layer_blocks)\.(\d{1,9})\.(weight|bias))");
  static const std::regex kExtra(R"(fpn\.(p6|p7)\.(weight|bias))");
  static const std::regex kTower(R"(head\.(classification_head|regression_head)\.conv\.(\d{1,9})\.(weight|bias))");
  static const std::regex kFinal(R"(head\.(classification_head\.cls_logits|regression_head\.bbox_reg)\.(weight|bias))");
  std::smatch m;
  if (std::regex_match(name, m, kFpnBlock)) {
    return fmt::format("backbone.fpn.{}.{}.0.{}", m[1].str(), m[2].str(), m[3].str());
  }
  if (std::regex_match(name, m, kExtra)) {
    return fmt::format("backbone.fpn.extra_blocks.{}.{}", m[1].str(), m[2].str());
  }
  if (std::regex_match(name, m, kTower)) {
    // focalab: one Sequential (conv, [GroupNorm,] ReLU, ...); torchvision: conv.j is
    // Conv2dNormActivation(conv, [GroupNorm,] ReLU)
    const int64_t index = std::stoll(m[2].str());
    const int64_t stride = group_norm ? 3 : 2;
    return fmt::format("head.{}.conv.{}.{}.{}", m[1].str(), index / stride, index % stride,
                       m[3].str());
  }
  if (std::regex_match(name, m, kFinal)) return name;
  throw std::invalid_argument("no torchvision name for " + name);
}

std::string torchvision_python(const TrialConfig& config, const std::string& weights_file) {
  const ModelConfig& m = config.model;
  const int64_t k = config.data.num_classes;
  std::vector<std::string> sizes, ratios;
  for (double size : m.anchor_sizes) {
    std::vector<std::string> level;
    for (int64_t s = 0; s < m.scales_per_octave; ++s) {
      double scale = size * std::pow(2.0, static_cast<double>(s) /
                                              static_cast<double>(m.scales_per_octave));
      if (m.anchor_integer_sizes) scale = std::trunc(scale);
      level.push_back(py_number(scale));
    }
    sizes.push_back(py_tuple(level));
  }
  for (double r : m.aspect_ratios) ratios.push_back(py_number(r));
  const bool synthetic = config.data.kind == DataKind::kSynthetic;
  const int64_t min_size = synthetic ? config.data.image_size : config.data.min_size;
  const int64_t max_size = synthetic ? config.data.image_size : config.data.max_size;
  const int64_t p6_in = m.p6_from == P6From::kP5 ? 256 : c5_channels(m.backbone);
  std::string py;
  py += "import torch\n";
  if (m.head_norm == HeadNormKind::kGroupNorm) py += "from functools import partial\nfrom torch import nn\n";
  py += "from torchvision.models.detection import RetinaNet\n";
  py += "from torchvision.models.detection.anchor_utils import AnchorGenerator\n";
  py += "from torchvision.models.detection.backbone_utils import resnet_fpn_backbone\n";
  py += "from torchvision.models.detection.retinanet import RetinaNetHead\n";
  py += "from torchvision.ops.feature_pyramid_network import LastLevelP6P7\n\n";
  py += fmt::format(
      "backbone = resnet_fpn_backbone(backbone_name=\"{}\", weights=None, trainable_layers=5,\n"
      "                               returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7({}, 256))\n",
      name_of(m.backbone), p6_in);
  // one level (P3, P4, ...) a line
  py += fmt::format("anchor_generator = AnchorGenerator(\n    sizes=({}{}),\n    aspect_ratios=({},) * {})\n",
                    fmt::join(sizes, ",\n           "), sizes.size() == 1 ? "," : "",
                    py_tuple(ratios), m.anchor_sizes.size());
  py += fmt::format("head = RetinaNetHead(256, anchor_generator.num_anchors_per_location()[0], {}{})\n",
                    k, m.head_norm == HeadNormKind::kGroupNorm ? ", norm_layer=partial(nn.GroupNorm, 32)" : "");
  py += fmt::format(
      "model = RetinaNet(backbone, {}, anchor_generator=anchor_generator, head=head,\n"
      "                  min_size={}, max_size={}, size_divisible=128, score_thresh={},\n"
      "                  topk_candidates={}, nms_thresh={}, detections_per_img={})\n",
      k, min_size, max_size, py_number(m.score_thresh), m.topk_candidates,
      py_number(m.nms_thresh), m.detections_per_image);
  bool unit_weights = m.box_weights.size() == 4;
  for (double w : m.box_weights) unit_weights = unit_weights && w == 1.0;
  if (!unit_weights) {
    py += "from torchvision.models.detection import _utils as det_utils\n";
    std::vector<std::string> wf;
    for (double v : m.box_weights) wf.push_back(fmt::format("{}", v) + (v == std::trunc(v) ? ".0" : ""));
    py += fmt::format("model.box_coder = det_utils.BoxCoder(weights={})\n", py_tuple(wf));
  }
  // the path as a Python string literal
  std::string quoted = "\"";
  for (char c : weights_file) {
    if (c == '\\' || c == '"') quoted += '\\';
    quoted += c;
  }
  quoted += "\"";
  py += fmt::format("model.load_state_dict(torch.load({}), strict=True)\nmodel.eval()\n", quoted);
  return py;
}

std::string config_to_yaml(const TrialConfig& config, const std::string& header) {
  std::string out;
  if (!header.empty()) {
    size_t pos = 0;
    while (pos <= header.size()) {
      const size_t nl = header.find('\n', pos);
      const std::string line = header.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      out += line.empty() ? "#\n" : "# " + line + "\n";
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  }
  // Nested mappings (data.train.annotations -> data: train: annotations:), keys sorted so that
  // every mapping is written once.
  std::vector<std::string> paths;
  for (const auto& f : config_fields()) paths.push_back(f.path);
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> open;
  for (const auto& path : paths) {
    std::vector<std::string> parts;
    size_t pos = 0;
    for (size_t dot; (dot = path.find('.', pos)) != std::string::npos; pos = dot + 1) {
      parts.push_back(path.substr(pos, dot - pos));
    }
    parts.push_back(path.substr(pos));
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) {
      ++common;
    }
    open.resize(common);
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      out += std::string(2 * i, ' ') + parts[i] + ":\n";
      open.push_back(parts[i]);
    }
    out += fmt::format("{}{}: {}\n", std::string(2 * (parts.size() - 1), ' '), parts.back(),
                       value_to_json(get_value(config, path)));
  }
  return out;
}

std::string exported_config_path(const std::string& weights_out) {
  const std::string ext = ".pth";
  if (weights_out.size() > ext.size() &&
      weights_out.compare(weights_out.size() - ext.size(), ext.size(), ext) == 0) {
    return weights_out.substr(0, weights_out.size() - ext.size()) + ".yaml";
  }
  return weights_out + ".yaml";
}

ExportResult export_model(models::RetinaNet& model, const TrialConfig& config,
                          const std::string& out, ExportLayout layout, const std::string& header) {
  ExportResult result;
  const std::string why = torchvision_unsupported(config.model);
  if (layout == ExportLayout::kTorchvision && !why.empty()) {
    throw UsageError(fmt::format("--layout torchvision: {} (use --layout focalab)", why));
  }
  result.layout = layout == ExportLayout::kAuto
                      ? (why.empty() ? ExportLayout::kTorchvision : ExportLayout::kFocalab)
                      : layout;
  if (layout == ExportLayout::kAuto) result.why_not_torchvision = why;
  result.config_path = exported_config_path(out);
  require_output_file(out, "--out");
  require_output_file(result.config_path, "--out (its config file)");
  const bool gn = config.model.head_norm == HeadNormKind::kGroupNorm;
  StateDict state;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    std::string target = name;
    if (result.layout == ExportLayout::kTorchvision) {
      target = focalab_to_torchvision_name(name, gn);
      // the loader's own mapping must take it back to the same parameter
      if (torchvision_to_focalab_name(target, gn) != name) {
        throw std::logic_error(fmt::format("export: {} -> {} does not map back", name, target));
      }
    }
    state.emplace_back(target, t.detach().to(torch::kCPU).contiguous());
  };
  for (const auto& p : model->named_parameters()) add(p.key(), p.value());
  for (const auto& b : model->named_buffers()) {
    if (b.key() == "pixel_mean" || b.key() == "pixel_std") continue;  // the config's, not weights
    add(b.key(), b.value());
  }
  result.tensors = static_cast<int64_t>(state.size());
  write_state_dict(out, state);
  write_file_atomically(result.config_path, config_to_yaml(config, header), "--out");
  if (result.layout == ExportLayout::kTorchvision) result.python = torchvision_python(config, out);
  return result;
}

}  // namespace interop
}  // namespace focalab::harness
