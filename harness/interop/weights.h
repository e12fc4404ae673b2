#pragma once
// Loading weights into focalab's RetinaNet from the checkpoints researchers already have, and
// saving focalab's own. Accepted, detected from the parameter names:
//   - focalab checkpoints (write_model_weights; parameter names of models::RetinaNet),
//   - torchvision's retinanet_resnet50_fpn / _v2 state_dicts (backbone.body.*, backbone.fpn.*,
//     head.*), in the names of torchvision >= 0.13 (conv.0.0.weight) and older (conv.0.weight),
//   - a torchvision ImageNet ResNet state_dict (conv1.*, layer1..4.*, fc.*) as backbone
//     initialization (load_backbone_weights; fc.* is dropped).
// A leading "module." (DataParallel) is stripped. Missing, unexpected and mis-shaped keys are
// reported by name in a DataError; nothing is copied unless everything matches.

#include <string>
#include <vector>

#include "harness/interop/torch_file.h"
#include "models/backbone/resnet.h"
#include "models/retinanet.h"

namespace focalab::harness {
inline namespace interop {

// Loads `path` (torch.save zip or legacy format) into `model`. Returns the layout found:
// "focalab", "torchvision-retinanet".
std::string load_model_weights(models::RetinaNet& model, const std::string& path);
// The same for a state_dict already read from `path` (named in errors).
std::string load_model_weights(models::RetinaNet& model, const StateDict& state,
                               const std::string& path);

// Loads an ImageNet classification ResNet (torchvision layout) into `backbone`.
void load_backbone_weights(models::ResNet& backbone, const std::string& path);

// Writes the model's parameters and buffers (focalab names) in torch.save's zip format.
void write_model_weights(models::RetinaNet& model, const std::string& path);

// The number of classes and the head norm a torchvision or focalab RetinaNet state_dict was made
// with, read from the shapes and names of its head; 0 / false if the state holds no head.
struct HeadShape {
  int64_t num_classes = 0;
  int64_t num_anchors = 0;
  int64_t num_convs = 0;
  bool group_norm = false;
};
HeadShape infer_head_shape(const StateDict& state);

// Maps a torchvision detection parameter name to focalab's ("" if it has no counterpart).
// `group_norm` selects the index layout of the heads' conv towers.
std::string torchvision_to_focalab_name(const std::string& name, bool group_norm);

}  // namespace interop
}  // namespace focalab::harness
