#pragma once
// Inference with a RetinaNet on image files: the architectures focalab can rebuild from a name
// (torchvision's detection models, so that their published and user-trained checkpoints run
// unchanged), the input transform, postprocessing and COCO results output.

#include <torch/types.h>

#include <string>
#include <vector>

#include "harness/config/trial_config.h"
#include "harness/interop/torch_file.h"
#include "models/anchors/box_coder.h"
#include "models/postprocess.h"
#include "models/retinanet.h"
#include "models/transform.h"

namespace focalab::harness {
inline namespace analysis {

struct ArchPreset {
  models::RetinaNetOptions model;
  models::TransformOptions transform;
  models::PostprocessOptions postprocess;
  models::BoxCoderOptions box_coder;  // torchvision's RetinaNet: weights (1, 1, 1, 1)
};

// Throws UsageError unless 1 <= min_size <= max_size <= 4096 (the --min-size / --max-size flags).
void check_transform_sizes(int64_t min_size, int64_t max_size);

// The names accepted by `focalab predict --arch`.
const std::vector<std::string>& arch_names();

// torchvision's detection models, every option as torchvision sets it:
//   retinanet_resnet50_fpn     ResNet-50 (frozen BN), FPN with P6 from P5, 4-conv heads without
//                              norm, anchors 32..512 with integer sub-octave sizes, padding to 32,
//                              800 / 1333, score 0.05, top 1000 per level, NMS 0.5, 300 detections
//   retinanet_resnet50_fpn_v2  as above with P6 from C5 and GroupNorm in the heads
// num_classes: 91 in torchvision's COCO models (category ids as labels, 0 unused).
// Throws UsageError for other names.
ArchPreset arch_preset(const std::string& arch, int64_t num_classes);

// A trained trial's model as its evaluation ran it: the model options of `config` (REQUIRES:
// data.num_classes set), the transform (synthetic data: the image side for both sizes; COCO data:
// data.min_size / max_size; padding to 128 with the ImageNet mean, as training batches are), the
// postprocessing and box coder of model.*.
ArchPreset trial_preset(const harness::TrialConfig& config);

struct ImageDetections {
  std::string file;
  int64_t image_id = 0;
  models::ImageSize original_size{0, 0};
  models::Detections detections;  // boxes in original-image pixels (x1, y1, x2, y2)
};

// Runs `model` (eval mode) on one image [3, H, W] in [0, 1]: transform, forward, postprocess,
// boxes mapped back to the image.
models::Detections predict_image(models::RetinaNet& model, const torch::Tensor& image,
                                 const models::TransformOptions& transform,
                                 const models::PostprocessOptions& postprocess,
                                 const torch::Device& device,
                                 const models::BoxCoder& box_coder = models::BoxCoder());

// A torchvision-format checkpoint in focalab's rebuild of its architecture.
struct PretrainedModel {
  models::RetinaNet model{nullptr};
  ArchPreset preset;
};

// Rebuilds `arch` with the number of classes of the state_dict's head, resized to min_size /
// max_size, loads `state` (read from `weights`), and moves it to `device` in eval mode. Throws
// UsageError for an unknown arch, DataError when the state_dict has no RetinaNet head or does
// not fit the architecture.
PretrainedModel load_pretrained(const std::string& arch, const StateDict& state,
                                const std::string& weights, int64_t min_size, int64_t max_size,
                                const torch::Device& device);

// Reads the image `file` and runs the model on it.
ImageDetections detect_file(PretrainedModel& m, const std::string& file, int64_t image_id,
                            const torch::Device& device);

// The image files named by `inputs` (files, or directories whose image files are taken in name
// order) with their COCO image ids: the number in the file name when the stem is all digits
// (COCO's 000000397133.jpg -> 397133), else the 1-based position in the list. Throws DataError
// for a missing path or a directory without images.
std::vector<std::pair<std::string, int64_t>> list_images(const std::vector<std::string>& inputs);

// COCO results JSON: [{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...].
// category_id is category_ids[label] when category_ids is given, else the label itself
// (torchvision's COCO models predict category ids).
std::string coco_results_json(const std::vector<ImageDetections>& results,
                              const std::vector<int64_t>& category_ids = {});

}  // namespace analysis
}  // namespace focalab::harness
