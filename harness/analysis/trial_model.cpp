#include "harness/analysis/trial_model.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

#include "harness/config/config.h"
#include "harness/config/reference.h"
#include "harness/eval/coco_json.h"
#include "harness/interop/torch_file.h"
#include "harness/run/scheduler.h"
#include "harness/store/store.h"
#include "harness/train/trainer.h"
#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace analysis {

std::string trial_checkpoint_file(const std::string& db_path, const std::string& key,
                                  const std::string& recorded) {
  std::string checkpoint = recorded;
  std::error_code ec;
  RunOptions beside;
  beside.db_path = db_path;
  const std::string default_path = checkpoint_path(beside, key);
  if (!checkpoint.empty() && std::filesystem::path(checkpoint).is_relative() &&
      !std::filesystem::exists(checkpoint, ec) && std::filesystem::exists(default_path, ec)) {
    checkpoint = default_path;
  }
  if (checkpoint.empty()) {
    throw DataError(fmt::format("{}: trial {} recorded no checkpoint (pass --checkpoint FILE)",
                                db_path, key));
  }
  if (!std::filesystem::is_regular_file(checkpoint, ec)) {
    throw DataError(fmt::format("{}: checkpoint of trial {} not found (moved? pass --checkpoint "
                                "FILE)", checkpoint, key));
  }
  return checkpoint;
}

StoredTrial find_done_trial(Store& store, const std::string& db_path, const std::string& key,
                            const std::string& who) {
  auto trial = store.find_trial(key);
  if (!trial) {
    throw UsageError(fmt::format("--trial {}: no such trial in {} (focalab query trials lists "
                                 "them)", key, db_path));
  }
  if (trial->status != TrialStatus::kDone) {
    throw UsageError(fmt::format("--trial {}: the trial is {}; {} needs a done trial (its final "
                                 "checkpoint)", key, status_name(trial->status), who));
  }
  return *trial;
}

TrainedTrial load_trained_trial(const std::string& db_path, const std::string& key,
                                const std::string& checkpoint, const std::string& data_root,
                                const std::string& who) {
  Store store(db_path);
  const StoredTrial trial = find_done_trial(store, db_path, key, who);
  TrainedTrial t;
  t.key = key;
  t.checkpoint = checkpoint.empty() ? trial_checkpoint_file(db_path, key, trial.checkpoint_path)
                                    : checkpoint;
  if (!checkpoint.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(checkpoint, ec)) {
      throw DataError(fmt::format("{}: --checkpoint: no such file", checkpoint));
    }
  }
  t.config = config_from_json(trial.config_json,
                              stored_config_name(db_path, key));
  t.config.data.root = data_root;
  // Its input files (data, backbone weights) need not be here: the model is in the checkpoint.
  std::vector<std::string> missing_inputs;
  finalize_config(t.config, fmt::format("{}: trial {}", db_path, key), {}, &missing_inputs);
  // A COCO trial's number of classes is its dataset's: read it from the checkpoint's head.
  const StateDict state = read_state_dict(t.checkpoint);
  const int64_t anchors = t.config.model.scales_per_octave *
                          static_cast<int64_t>(t.config.model.aspect_ratios.size());
  for (const auto& [name, tensor] : state) {
    if (name == "model.head.classification_head.cls_logits.weight" && tensor.dim() == 4 &&
        anchors > 0 && tensor.size(0) % anchors == 0) {
      t.config.data.num_classes = tensor.size(0) / anchors;
    }
  }
  t.model = models::RetinaNet(retinanet_options(t.config));
  t.iteration = load_checkpoint_weights(t.checkpoint, t.model);
  t.model->eval();
  return t;
}

std::vector<int64_t> trial_category_ids(const TrialConfig& config) {
  std::vector<int64_t> ids;
  if (config.data.kind != DataKind::kCoco) {
    for (int64_t k = 0; k < config.data.num_classes; ++k) ids.push_back(k + 1);
    return ids;
  }
  const std::string path = config.data.resolve(config.data.val_annotations);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError(fmt::format("{}: the trial's val annotations are not here (their category ids "
                                "name the labels; pass --data-root, the trial's data.root)", path));
  }
  for (const auto& c : read_coco_dataset(path).categories) ids.push_back(c.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (static_cast<int64_t>(ids.size()) != config.data.num_classes) {
    throw DataError(fmt::format("{}: {} categories, the trial's model has {} classes", path,
                                ids.size(), config.data.num_classes));
  }
  return ids;
}

}  // namespace analysis
}  // namespace focalab::harness
