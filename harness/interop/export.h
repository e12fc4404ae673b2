#pragma once
// A trained model out of focalab: its weights as a plain state_dict that torchvision loads with
// `load_state_dict(strict=True)` — torchvision's parameter names, and the Python that builds the
// same model in torchvision — when torchvision's public API can build the architecture; else
// focalab's own names. The trial config goes beside the weights as YAML either way.

#include <cstdint>
#include <string>

#include "harness/config/trial_config.h"
#include "models/retinanet.h"

namespace focalab::harness {
inline namespace interop {

enum class ExportLayout {
  kAuto,         // torchvision when the architecture allows, else focalab
  kTorchvision,  // torchvision's names (an error when the architecture has no counterpart)
  kFocalab,      // focalab's names: `focalab predict/eval --weights` and load_model_weights read it
};
// "auto" | "torchvision" | "focalab"; throws UsageError naming `what` otherwise.
ExportLayout parse_export_layout(const std::string& text, const std::string& what);
const char* layout_name(ExportLayout layout);

// Why torchvision's public API (resnet_fpn_backbone, RetinaNetHead, RetinaNet, torchvision >=
// 0.13) cannot build the model of `config`, as "model.KEY VALUE: ..."; "" when it can: a ResNet
// 18/34/50/101 backbone, 256 FPN channels and 4 convs per head subnet.
std::string torchvision_unsupported(const ModelConfig& config);

// torchvision's name (>= 0.13: FPN and head convs wrapped in Conv2dNormActivation) of a focalab
// RetinaNet parameter or buffer; throws std::invalid_argument for a name it has none for.
// `group_norm`: the heads have GroupNorm (conv, norm, ReLU per layer instead of conv, ReLU).
std::string focalab_to_torchvision_name(const std::string& name, bool group_norm);

// Python that builds `config`'s model in torchvision with focalab's inference settings (the
// anchors, the transform of the trial's evaluation, score threshold, candidates, NMS, detections,
// box coder weights) and loads `weights_file` strictly. REQUIRES: torchvision_unsupported == "".
std::string torchvision_python(const TrialConfig& config, const std::string& weights_file);

// `config` as a YAML config file that focalab loads back (every key, one section per group).
std::string config_to_yaml(const TrialConfig& config, const std::string& header);

// The YAML file written beside `weights_out`: model.pth -> model.yaml.
std::string exported_config_path(const std::string& weights_out);

struct ExportResult {
  ExportLayout layout = ExportLayout::kFocalab;
  int64_t tensors = 0;
  std::string config_path;  // the YAML written beside the weights
  std::string python;       // torchvision layout: the code that loads it; else ""
  std::string why_not_torchvision;  // focalab layout chosen by kAuto: the reason
};

// Writes the weights of `model` (built from `config`) to `out` (torch.save zip format) in
// `layout`, and the config beside it. `header` opens the YAML as comment lines. Throws UsageError
// for kTorchvision on an architecture torchvision cannot build, or an unwritable path.
ExportResult export_model(models::RetinaNet& model, const TrialConfig& config,
                          const std::string& out, ExportLayout layout, const std::string& header);

}  // namespace interop
}  // namespace focalab::harness
