#include "harness/analysis/predict.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "harness/data/image_io.h"
#include "harness/interop/weights.h"
#include "harness/train/train_step.h"
#include "harness/train/trainer.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"

namespace focalab::harness {
inline namespace analysis {

namespace fs = std::filesystem;

void check_transform_sizes(int64_t min_size, int64_t max_size) {
  if (min_size < 1 || max_size < min_size || max_size > 4096) {
    throw UsageError(fmt::format("--min-size {} / --max-size {}: need 1 <= min-size <= max-size "
                                 "<= 4096", min_size, max_size));
  }
}

const std::vector<std::string>& arch_names() {
  static const std::vector<std::string> kNames = {"retinanet_resnet50_fpn",
                                                  "retinanet_resnet50_fpn_v2"};
  return kNames;
}

ArchPreset arch_preset(const std::string& arch, int64_t num_classes) {
  if (std::find(arch_names().begin(), arch_names().end(), arch) == arch_names().end()) {
    throw UsageError(fmt::format("--arch: unknown architecture '{}' (allowed: {})", arch,
                                 fmt::join(arch_names(), ", ")));
  }
  if (num_classes < 1) {
    throw UsageError(fmt::format("--num-classes: must be >= 1, got {}", num_classes));
  }
  ArchPreset p;
  p.model.backbone.preset = "resnet50";
  p.model.backbone.norm = models::NormKind::kFrozenBatchNorm;
  p.model.fpn.out_channels = 256;
  p.model.fpn.p6_source = models::P6Source::kP5;
  p.model.head.num_classes = num_classes;
  p.model.head.num_convs = 4;
  p.model.head.norm = models::HeadNorm::kNone;
  p.model.anchors.sizes = {32, 64, 128, 256, 512};
  p.model.anchors.scales_per_octave = 3;
  p.model.anchors.aspect_ratios = {0.5, 1.0, 2.0};
  p.model.anchors.integer_sizes = true;
  p.transform.min_size = 800;
  p.transform.max_size = 1333;
  p.transform.size_divisible = 32;
  p.postprocess.score_thresh = 0.05;
  p.postprocess.topk_candidates = 1000;
  p.postprocess.nms_thresh = 0.5;
  p.postprocess.detections_per_image = 300;
  if (arch == "retinanet_resnet50_fpn_v2") {
    p.model.fpn.p6_source = models::P6Source::kC5;
    p.model.head.norm = models::HeadNorm::kGroupNorm;
  }
  return p;
}

ArchPreset trial_preset(const harness::TrialConfig& config) {
  ArchPreset p;
  p.model = harness::retinanet_options(config);
  const bool synthetic = config.data.kind != DataKind::kCoco;
  p.transform.min_size = synthetic ? config.data.image_size : config.data.min_size;
  p.transform.max_size = synthetic ? config.data.image_size : config.data.max_size;
  p.transform.size_divisible = 128;  // harness::collate's padding
  p.postprocess = harness::postprocess_options(config.model);
  p.box_coder = harness::box_coder_for(config.model).options();
  return p;
}

models::Detections predict_image(models::RetinaNet& model, const torch::Tensor& image,
                                 const models::TransformOptions& transform,
                                 const models::PostprocessOptions& postprocess,
                                 const torch::Device& device, const models::BoxCoder& box_coder) {
  torch::NoGradGuard no_grad;
  auto batch = models::transform_images({image.to(device)}, transform);
  auto out = model->forward(batch.images);
  const auto [h, w] = batch.image_sizes[0];
  auto det = models::postprocess_detections(out.cls_logits[0], out.box_deltas[0], out.anchors,
                                            out.anchors_per_level, h, w, box_coder,
                                            postprocess);
  det.boxes = models::resize_boxes(det.boxes, batch.image_sizes[0], batch.original_sizes[0]);
  return {det.boxes.cpu(), det.scores.cpu(), det.labels.cpu()};
}

PretrainedModel load_pretrained(const std::string& arch, const StateDict& state,
                                const std::string& weights, int64_t min_size, int64_t max_size,
                                const torch::Device& device) {
  const HeadShape head = infer_head_shape(state);
  if (head.num_classes < 1) {
    throw DataError(fmt::format("{}: no RetinaNet head (head.classification_head.cls_logits) "
                                "in the state_dict; is it a backbone-only checkpoint?", weights));
  }
  PretrainedModel m;
  m.preset = arch_preset(arch, head.num_classes);
  m.preset.transform.min_size = min_size;
  m.preset.transform.max_size = max_size;
  m.model = models::RetinaNet(m.preset.model);
  load_model_weights(m.model, state, weights);
  m.model->to(device);
  m.model->eval();
  return m;
}

ImageDetections detect_file(PretrainedModel& m, const std::string& file, int64_t image_id,
                            const torch::Device& device) {
  auto image = read_image(file);
  ImageDetections r;
  r.file = file;
  r.image_id = image_id;
  r.original_size = {image.size(1), image.size(2)};
  r.detections = predict_image(m.model, image, m.preset.transform, m.preset.postprocess, device,
                               models::BoxCoder(m.preset.box_coder));
  return r;
}

namespace {
bool is_image_file(const fs::path& p) {
  static const std::set<std::string> kExt = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif",
                                             ".pnm", ".ppm", ".pgm"};
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return kExt.count(ext) > 0;
}
}  // namespace

std::vector<std::pair<std::string, int64_t>> list_images(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      fs::directory_iterator it(input, ec), end;
      if (ec) throw DataError(fmt::format("{}: cannot list ({})", input, ec.message()));
      for (; it != end; it.increment(ec)) {
        if (ec) throw DataError(fmt::format("{}: cannot list ({})", input, ec.message()));
        std::error_code type_ec;
        if (it->is_regular_file(type_ec) && is_image_file(it->path())) {
          found.push_back(it->path().string());
        }
      }
      if (found.empty()) {
        throw DataError(fmt::format("{}: directory holds no image files (.png, .jpg, .jpeg, "
                                    ".bmp, .tga, .gif, .pnm)", input));
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(input, ec)) {
      files.push_back(input);
    } else {
      throw DataError(fmt::format("{}: no such image file or directory", input));
    }
  }
  std::vector<std::pair<std::string, int64_t>> out;
  std::map<int64_t, std::string> owner;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string stem = fs::path(files[i]).stem().string();
    const bool numeric = !stem.empty() && stem.size() <= 15 &&
                         std::all_of(stem.begin(), stem.end(),
                                     [](unsigned char c) { return std::isdigit(c); });
    const int64_t id = numeric ? std::stoll(stem) : static_cast<int64_t>(i + 1);
    auto [it, inserted] = owner.emplace(id, files[i]);
    if (!inserted) {
      throw DataError(fmt::format("{} and {} would both get image id {} (ids are the file name's "
                                  "number, else the position); rename one", it->second, files[i],
                                  id));
    }
    out.emplace_back(files[i], id);
  }
  return out;
}

std::string coco_results_json(const std::vector<ImageDetections>& results,
                              const std::vector<int64_t>& category_ids) {
  // boxes to 1e-4 px and scores to 1e-6: the precision the file's readers need
  std::string out;
  JsonWriter w([&out](std::string_view piece) { out += piece; });
  w.begin_array(true);  // one detection a line
  for (const auto& r : results) {
    const auto& d = r.detections;
    auto boxes = d.boxes.to(torch::kDouble).contiguous();
    auto scores = d.scores.to(torch::kDouble).contiguous();
    auto labels = d.labels.to(torch::kLong).contiguous();
    const auto* b = boxes.data_ptr<double>();
    for (int64_t i = 0; i < scores.size(0); ++i) {
      const double x1 = b[4 * i], y1 = b[4 * i + 1], x2 = b[4 * i + 2], y2 = b[4 * i + 3];
      const double score = scores.data_ptr<double>()[i];
      if (!std::isfinite(x1 + y1 + x2 + y2 + score)) continue;  // JSON has no NaN / inf
      const int64_t label = labels.data_ptr<int64_t>()[i];
      const int64_t category =
          category_ids.empty() ? label : category_ids.at(static_cast<size_t>(label));
      w.value({{"image_id", r.image_id},
               {"category_id", category},
               {"bbox", {json_rounded(x1, 4), json_rounded(y1, 4), json_rounded(x2 - x1, 4),
                         json_rounded(y2 - y1, 4)}},
               {"score", json_rounded(score, 6)}});
    }
  }
  w.end_array();
  w.newline();
  return out;
}

}  // namespace analysis
}  // namespace focalab::harness
