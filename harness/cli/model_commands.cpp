// `focalab predict`, `eval`, `export` and `analyze`: trained models, in and out.

#include <fmt/format.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <unistd.h>
#include <map>
#include <thread>
#include <atomic>
#include <csignal>
#include <sys/wait.h>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "focalab/version.h"
#include "harness/analysis/data_stats.h"
#include "harness/analysis/loss_cdf_analysis.h"
#include "harness/analysis/predict.h"
#include "harness/analysis/trial_model.h"
#include "harness/cli/cli_common.h"
#include "harness/config/config.h"
#include "harness/config/reference.h"
#include "harness/config/sweep.h"
#include "harness/data/coco_dataset_tools.h"
#include "harness/data/dataset.h"
#include "harness/data/image_io.h"
#include "harness/eval/coco_files.h"
#include "harness/interop/export.h"
#include "harness/interop/weights.h"
#include "harness/run/device.h"
#include "harness/run/progress.h"
#include "harness/run/scheduler.h"
#include "harness/store/sqlite.h"
#include "harness/store/store.h"
#include "harness/train/trainer.h"
#include "harness/util/errors.h"
#include "harness/util/paths.h"
#include "reports/plots/chart.h"
#include "reports/plots/plot.h"
#include "reports/query.h"
#include "reports/report.h"
#include "reports/sweep_data.h"
#include "reports/web/serve.h"

namespace focalab::harness::cli {

namespace po = boost::program_options;
using harness::TrialStatus;
using harness::write_file_atomically;

namespace {

const char* kPredictUsage = R"(Usage: focalab predict --arch NAME --weights W.pth --image PATH [--image PATH ...]
                       [--out dets.json] [options]
       focalab predict --trial KEY --image PATH [--image PATH ...] [--db FILE] [options]

Runs a RetinaNet checkpoint on images and writes COCO results JSON (image_id, category_id,
bbox [x, y, w, h], score) in original-image pixels. The weights are a state_dict saved by
torch.save (zip or legacy format), e.g. torchvision's retinanet_resnet50_fpn, loaded without
conversion; the number of classes is read from them. A directory --image runs on its image
files in name order; image ids are the file name's number when it is all digits (COCO's
000000397133.jpg -> 397133), else the position in the list.

Architectures: retinanet_resnet50_fpn (torchvision v1: P6 from P5, no head norm),
retinanet_resnet50_fpn_v2 (P6 from C5, GroupNorm heads); both as torchvision sets them
(anchors, 800 / 1333 resize, padding to 32, 300 detections).

--trial KEY runs a done trial of the results database instead: the model its config describes,
with the weights of its final checkpoint, resized and postprocessed as the trial's evaluation
was (synthetic data: the image side; COCO data: data.min_size / max_size; padding to 128; the
trial's score threshold, candidates, NMS and detections). Labels map to the trial's category
ids: 1..K for synthetic data (as `focalab data synth` writes them), the annotations' ids for
COCO data (read from the trial's data.val; --data-root where it is not the trial's). The
--min-size, --max-size, --score-thresh and --detections given override the trial's.

Examples:
  focalab predict --arch retinanet_resnet50_fpn --weights retinanet_resnet50_fpn_coco.pth \
      --image 000000397133.jpg --out dets.json
  focalab predict --arch retinanet_resnet50_fpn --weights w.pth --image val2017/ --min-size 600
  focalab predict --trial 0f6903c44ae08994 --image shapes/val/ --out dets.json

Exit codes: 0 ok, 2 usage error (also: unknown trial, a trial not done), 3 unreadable weights,
checkpoint or image, 4 database error, 70 internal error.
)";

// The model options shared by predict and eval: --arch/--weights, or --trial (one of them).
void add_model_options(po::options_description& opts) {
  opts.add_options()(
      "arch", po::value<std::string>(),
      "architecture: retinanet_resnet50_fpn | retinanet_resnet50_fpn_v2")(
      "weights", po::value<std::string>(), "state_dict file written by torch.save")(
      "trial", po::value<std::string>(),
      "a done trial's key: its model and final checkpoint (instead of --arch and --weights)")(
      "checkpoint", po::value<std::string>()->default_value(""),
      "with --trial: this checkpoint file instead of the trial's own")(
      "data-root", po::value<std::string>()->default_value(""),
      "with --trial of COCO data: the dataset's data.root here (not stored with a trial)");
}

// Which model the flags name; checks that they name exactly one.
struct ModelChoice {
  std::string trial;  // "" = --arch / --weights
  std::string arch, weights;
};

ModelChoice model_choice(const po::variables_map& vm) {
  ModelChoice c;
  const bool arch = vm.count("arch") > 0, weights = vm.count("weights") > 0;
  if (vm.count("trial")) {
    if (arch || weights) {
      throw UsageError("--trial and --arch/--weights: give one of them (a trial's model, or an "
                       "architecture and its weights)");
    }
    c.trial = vm["trial"].as<std::string>();
    reports::check_trial_key(c.trial);
    return c;
  }
  if (!vm["checkpoint"].defaulted() || !vm["data-root"].defaulted()) {
    throw UsageError("--checkpoint and --data-root go with --trial KEY");
  }
  if (!arch || !weights) {
    throw UsageError(fmt::format("the option '--{}' is required (or --trial KEY for a trained "
                                 "trial)", arch ? "weights" : "arch"));
  }
  c.arch = vm["arch"].as<std::string>();
  c.weights = vm["weights"].as<std::string>();
  arch_preset(c.arch, 1);  // validates the name before the weights are read
  harness::require_input_file(c.weights, "--weights");
  return c;
}

// A trained trial as a PretrainedModel on `device`, with its category ids.
PretrainedModel load_trial_model(const po::variables_map& vm, const std::string& key,
                                 const std::string& who, const torch::Device& device,
                                 std::vector<int64_t>* category_ids,
                                 harness::TrialConfig* config = nullptr) {
  const std::string db_path = vm["db"].as<std::string>();
  reports::require_results_db(db_path);
  harness::TrainedTrial t = harness::load_trained_trial(
      db_path, key, vm["checkpoint"].as<std::string>(), vm["data-root"].as<std::string>(), who);
  if (category_ids) *category_ids = harness::trial_category_ids(t.config);
  fmt::print(stderr, "trial {}: {}, {} classes, {} after {} iterations\n", key,
             name_of(t.config.model.backbone), t.config.data.num_classes, t.checkpoint, t.iteration);
  PretrainedModel m;
  m.preset = trial_preset(t.config);
  m.model = t.model;
  m.model->to(device);
  m.model->eval();
  if (config) *config = t.config;
  return m;
}


}  // namespace

int predict_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help");
  add_model_options(opts);
  opts.add_options()(
      "image", po::value<std::vector<std::string>>()->required(),
      "image file or directory (repeatable)")(
      "out", po::value<std::string>()->default_value("-"),
      "COCO results JSON file (default: - = stdout)")(
      "min-size", po::value<int64_t>()->default_value(800), "shorter side after resizing")(
      "max-size", po::value<int64_t>()->default_value(1333), "longer side bound")(
      "score-thresh", po::value<double>()->default_value(0.05), "minimum detection score")(
      "detections", po::value<int64_t>()->default_value(300), "detections kept per image")(
      "device", po::value<std::string>()->default_value("auto"), "auto | cpu | cuda | cuda:N")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (default: all cores)");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm, kPredictUsage)) return kExitOk;
  const int64_t min_size = vm["min-size"].as<int64_t>(), max_size = vm["max-size"].as<int64_t>();
  check_transform_sizes(min_size, max_size);
  const double score = vm["score-thresh"].as<double>();
  if (!(score >= 0.0 && score < 1.0)) {
    throw UsageError(fmt::format("--score-thresh {}: allowed [0, 1)", score));
  }
  const int64_t dets = vm["detections"].as<int64_t>();
  if (dets < 1) throw UsageError(fmt::format("--detections {}: must be >= 1", dets));
  const ModelChoice choice = model_choice(vm);
  if (vm["out"].as<std::string>() != "-") harness::require_output_file(vm["out"].as<std::string>(), "--out");
  const auto images = list_images(vm["image"].as<std::vector<std::string>>());
  for (const auto& [file, id] : images) probe_image(file);  // fail before loading the weights
  harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());

  PretrainedModel m;
  std::vector<int64_t> category_ids;  // empty: labels are category ids (torchvision's COCO models)
  if (choice.trial.empty()) {
    m = load_pretrained(choice.arch, read_state_dict(choice.weights), choice.weights, min_size,
                        max_size, device);
    m.preset.postprocess.score_thresh = score;
    m.preset.postprocess.detections_per_image = dets;
  } else {
    m = load_trial_model(vm, choice.trial, "predict", device, &category_ids);
    if (!vm["min-size"].defaulted()) m.preset.transform.min_size = min_size;
    if (!vm["max-size"].defaulted()) m.preset.transform.max_size = max_size;
    check_transform_sizes(m.preset.transform.min_size, m.preset.transform.max_size);
    if (!vm["score-thresh"].defaulted()) m.preset.postprocess.score_thresh = score;
    if (!vm["detections"].defaulted()) m.preset.postprocess.detections_per_image = dets;
  }

  std::vector<ImageDetections> results;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& [file, id] = images[i];
    ImageDetections r = detect_file(m, file, id, device);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print(stderr, "[{}/{}] {} ({}x{}): {} detections, {:.2f} s/image\n", i + 1,
               images.size(), file, r.original_size.second, r.original_size.first,
               r.detections.scores.size(0), elapsed / static_cast<double>(i + 1));
    results.push_back(std::move(r));
  }
  const std::string json = coco_results_json(results, category_ids);

  const std::string out = vm["out"].as<std::string>();
  if (out == "-") {
    fmt::print("{}", json);
  } else {
    write_file_atomically(out, json);
    fmt::print(stderr, "wrote {} ({} images)\n", out, results.size());
  }
  return kExitOk;
}


const char* kEvalUsage = R"(Usage: focalab eval --arch NAME --weights W.pth --annotations GT.json --images DIR
                    [--export-coco dets.json] [--json] [options]
       focalab eval --trial KEY [--annotations GT.json --images DIR] [--json] [--db FILE] [options]

Runs a RetinaNet checkpoint on every image of a COCO-format dataset and scores the detections
against its annotations with focalab's COCO evaluator (eval-json's numbers, pycocotools'
semantics). --export-coco keeps the detections as a COCO results file; `focalab eval-json` on it
prints the same numbers. Labels map to category ids by --labels: `category-id` (the model
predicts COCO category ids, as torchvision's COCO models do with 91 classes), `index` (label k is
the k-th category of the annotations in increasing id order), `auto` (category-id when the
model has more classes than the largest category id, else index).

--trial KEY evaluates a done trial's model (its config and final checkpoint, as `focalab predict
--trial`): without --annotations on the trial's own val split, as its training evaluated it (the
numbers the results database holds for it, recomputed); with --annotations and --images on that
COCO dataset, resized as the trial's evaluation was unless --min-size / --max-size are given.

Examples:
  focalab eval --arch retinanet_resnet50_fpn --weights retinanet_resnet50_fpn_coco.pth \
      --annotations instances_val2017.json --images val2017/ --export-coco dets.json
  focalab eval --arch retinanet_resnet50_fpn --weights w.pth --annotations gt.json \
      --images imgs/ --min-size 600 --max-size 1000 --limit 50
  focalab eval --trial 0f6903c44ae08994 --json
  focalab eval --trial 0f6903c44ae08994 --annotations other/instances_val.json --images other/val

Exit codes: 0 ok, 2 usage error (also: unknown trial, a trial not done), 3 unreadable weights,
checkpoint, annotations or image, 4 database error.
)";

int eval_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help");
  add_model_options(opts);
  opts.add_options()(
      "annotations", po::value<std::string>(), "COCO instances JSON")(
      "images", po::value<std::string>(), "folder of the images' file_name")(
      "export-coco", po::value<std::string>()->default_value(""),
      "also write the detections as a COCO results JSON file")(
      "json", "print one JSON object instead of the 12 summary lines")(
      "labels", po::value<std::string>()->default_value("auto"), "auto | category-id | index")(
      "limit", po::value<int64_t>()->default_value(0),
      "evaluate only the first N images by id (0 = all)")(
      "min-size", po::value<int64_t>()->default_value(800), "shorter side after resizing")(
      "max-size", po::value<int64_t>()->default_value(1333), "longer side bound")(
      "device", po::value<std::string>()->default_value("auto"), "auto | cpu | cuda | cuda:N")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (default: all cores)");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm, kEvalUsage)) return kExitOk;
  const std::string labels_mode = vm["labels"].as<std::string>();
  if (labels_mode != "auto" && labels_mode != "category-id" && labels_mode != "index") {
    throw UsageError(fmt::format("--labels '{}': allowed auto, category-id, index", labels_mode));
  }
  const int64_t min_size = vm["min-size"].as<int64_t>(), max_size = vm["max-size"].as<int64_t>();
  check_transform_sizes(min_size, max_size);
  const ModelChoice choice = model_choice(vm);
  if (!choice.trial.empty() && !vm.count("annotations") && !vm.count("images")) {
    // the trial's own val split, evaluated as its training did
    if (!vm["export-coco"].as<std::string>().empty() || vm["limit"].as<int64_t>() != 0 ||
        !vm["min-size"].defaulted() || !vm["max-size"].defaulted() ||
        !vm["labels"].defaulted()) {
      throw UsageError("--export-coco, --labels, --limit, --min-size and --max-size go with "
                       "--annotations and --images (a trial's own val split is evaluated as its "
                       "training did)");
    }
    harness::configure_threads(vm["threads"].as<int64_t>());
    const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
    std::vector<int64_t> ids;
    harness::TrialConfig config;
    PretrainedModel m = load_trial_model(vm, choice.trial, "eval", device, &ids, &config);
    const auto val = harness::open_dataset(config.data, harness::Split::kVal);
    const auto start = std::chrono::steady_clock::now();
    CocoFileEval eval;
    eval.summary = harness::evaluate_model(m.model, config, *val, device);
    const auto names = val->class_names();
    for (size_t k = 0; k < ids.size() && k < names.size(); ++k) eval.categories.push_back({ids[k], names[k]});
    eval.num_images = val->size();
    fmt::print(stderr, "eval: trial {} on its val split, {} images ({:.1f} s)\n", choice.trial,
               val->size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    fmt::print("{}", vm.count("json") ? summary_json(eval) : summary_text(eval.summary));
    return kExitOk;
  }
  if (!vm.count("annotations") || !vm.count("images")) {
    throw UsageError(fmt::format("the option '--{}' is required{}",
                                 vm.count("annotations") ? "images" : "annotations",
                                 choice.trial.empty() ? "" : " with the other (or neither: the "
                                                             "trial's own val split)"));
  }
  const std::string gt_path = vm["annotations"].as<std::string>();
  harness::require_input_file(gt_path, "--annotations");
  if (!vm["export-coco"].as<std::string>().empty()) {
    harness::require_output_file(vm["export-coco"].as<std::string>(), "--export-coco");
  }
  CocoDataset gt = read_coco_dataset(gt_path);
  std::sort(gt.images.begin(), gt.images.end(),
            [](const CocoImage& a, const CocoImage& b) { return a.id < b.id; });
  const int64_t limit = vm["limit"].as<int64_t>();
  if (limit < 0) throw UsageError("--limit must be >= 0");
  if (limit > 0 && static_cast<size_t>(limit) < gt.images.size()) gt.images.resize(limit);
  const std::filesystem::path image_dir = vm["images"].as<std::string>();
  for (size_t i = 0; i < gt.images.size(); ++i) {
    if (gt.images[i].file_name.empty()) {
      throw DataError(fmt::format("{}: images[{}] (id {}) has no file_name", gt_path, i,
                                  gt.images[i].id));
    }
    probe_image((image_dir / gt.images[i].file_name).string());
  }
  harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
  PretrainedModel m;
  StateDict state;
  int64_t num_classes = 0;
  std::string model_name;  // in messages
  if (choice.trial.empty()) {
    model_name = choice.weights;
    state = read_state_dict(choice.weights);  // read once: head shape, then the model
    num_classes = infer_head_shape(state).num_classes;
    if (num_classes < 1) {
      throw DataError(fmt::format("{}: no RetinaNet head in the state_dict", choice.weights));
    }
  } else {
    model_name = "trial " + choice.trial;
    m = load_trial_model(vm, choice.trial, "eval", device, nullptr);
    num_classes = m.preset.model.head.num_classes;
    if (!vm["min-size"].defaulted()) m.preset.transform.min_size = min_size;
    if (!vm["max-size"].defaulted()) m.preset.transform.max_size = max_size;
    check_transform_sizes(m.preset.transform.min_size, m.preset.transform.max_size);
  }
  std::vector<int64_t> category_ids;
  for (const auto& c : gt.categories) category_ids.push_back(c.id);
  std::sort(category_ids.begin(), category_ids.end());
  category_ids.erase(std::unique(category_ids.begin(), category_ids.end()), category_ids.end());
  const int64_t max_id = category_ids.empty() ? 0 : category_ids.back();
  const bool by_index =
      labels_mode == "index" || (labels_mode == "auto" && num_classes <= max_id);
  if (by_index && num_classes != static_cast<int64_t>(category_ids.size())) {
    throw DataError(fmt::format("{}: the model has {} classes, {} has {} categories; --labels "
                                "index needs one class per category (or use --labels "
                                "category-id)", model_name, num_classes, gt_path,
                                category_ids.size()));
  }
  if (choice.trial.empty()) {
    m = load_pretrained(choice.arch, state, choice.weights, min_size, max_size, device);
  }

  std::vector<ImageDetections> results;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < gt.images.size(); ++i) {
    results.push_back(
        detect_file(m, (image_dir / gt.images[i].file_name).string(), gt.images[i].id, device));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double per = elapsed / static_cast<double>(i + 1);
    if ((i + 1) % 10 == 0 || i + 1 == gt.images.size()) {
      fmt::print(stderr, "eval: {}/{} images, {:.2f} s/image, ETA {:.0f} s\n", i + 1,
                 gt.images.size(), per, per * static_cast<double>(gt.images.size() - i - 1));
    }
  }
  // The detections go through the same JSON as --export-coco, so that eval-json on the exported
  // file prints exactly these numbers.
  const std::string json = coco_results_json(results, by_index ? category_ids : std::vector<int64_t>{});
  int64_t total = 0;
  for (const auto& r : results) total += r.detections.scores.size(0);
  const std::string out = vm["export-coco"].as<std::string>();
  CocoFileEval eval;
  if (total == 0) {
    // nothing detected: AP 0 where there is ground truth (COCOeval cannot load an empty list)
    eval = evaluate_coco_data(gt, {}, gt_path, "no detections");
    if (!out.empty()) write_file_atomically(out, json, "--export-coco");
  } else if (!out.empty()) {
    write_file_atomically(out, json, "--export-coco");
    eval = evaluate_coco_data(gt, read_coco_results(out), gt_path, out);
    fmt::print(stderr, "wrote {} ({} detections)\n", out, eval.num_detections);
  } else {
    // the same JSON round trip as --export-coco, in a temporary file
    std::error_code ec;
    std::string tmp_dir = (std::filesystem::temp_directory_path(ec) / "focalab-eval-XXXXXX").string();
    if (ec || !mkdtemp(tmp_dir.data())) {
      throw DataError("eval: cannot create a temporary directory (set TMPDIR to a writable one)");
    }
    struct Cleanup {
      std::string path;
      ~Cleanup() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
      }
    } cleanup{tmp_dir};
    write_file_atomically(tmp_dir + "/detections.json", json);
    eval = evaluate_coco_data(gt, read_coco_results(tmp_dir + "/detections.json"), gt_path,
                              "the detections");
  }
  fmt::print("{}", vm.count("json") ? summary_json(eval) : summary_text(eval.summary));
  return kExitOk;
}


const char* kExportUsage = R"(Usage: focalab export --trial KEY --out model.pth [--layout auto|torchvision|focalab]
                      [--checkpoint FILE] [--db FILE]

Writes a done trial's trained weights (its final checkpoint) as a plain state_dict in torch.save's
zip format, and the trial's config beside them as YAML (model.pth -> model.yaml: every key;
`focalab train model.yaml` trains the trial again, `focalab sweep plan model.yaml` shows its key).

Layouts:
  torchvision  torchvision's parameter names (>= 0.13). The Python printed on stdout builds the
               same model in torchvision — resnet_fpn_backbone, RetinaNetHead (GroupNorm with
               model.head_norm gn), RetinaNet with the trial's anchors, image size and
               postprocessing — and loads the file with load_state_dict(strict=True). For a
               ResNet-18/34/50/101 backbone with 256 FPN channels and 4-conv heads: the paper's
               RetinaNet (P6 from C5) and torchvision's retinanet_resnet50_fpn (model.p6_from
               p5) and retinanet_resnet50_fpn_v2 (c5, head_norm gn).
  focalab      focalab's names, any architecture: `focalab predict/eval --trial` or the
               training code read them.
  auto         torchvision where the architecture allows, else focalab (the reason on stderr).

Examples:
  focalab query "SELECT key, loss, gamma, alpha, AP FROM results WHERE status = 'done'"
  focalab export --trial 0f6903c44ae08994 --out retinanet.pth > load_retinanet.py
  python3 -c 'exec(open("load_retinanet.py").read()); print(model.head)'

Exit codes: 0 ok, 2 usage error (also: unknown trial, a trial not done, --layout torchvision for
an architecture torchvision lacks), 3 missing or unreadable checkpoint, 4 database error.
)";

int export_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "trial", po::value<std::string>()->required(),
      "trial key (16 hex digits; focalab query trials)")(
      "out", po::value<std::string>()->required(), "the state_dict file to write (model.pth)")(
      "layout", po::value<std::string>()->default_value("auto"), "auto | torchvision | focalab")(
      "checkpoint", po::value<std::string>()->default_value(""),
      "this checkpoint file instead of the trial's own");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm, kExportUsage)) return kExitOk;
  const std::string key = vm["trial"].as<std::string>();
  reports::check_trial_key(key);
  const auto layout = harness::parse_export_layout(vm["layout"].as<std::string>(), "--layout");
  const std::string out = vm["out"].as<std::string>();
  harness::require_output_file(out, "--out");
  const std::string db_path = vm["db"].as<std::string>();
  reports::require_results_db(db_path);
  harness::configure_threads(0);
  harness::TrainedTrial t =
      harness::load_trained_trial(db_path, key, vm["checkpoint"].as<std::string>(), "", "export");
  const std::string header = fmt::format(
      "focalab trial {} ({}), {} iterations; weights: {}\n"
      "focalab train THIS_FILE trains it again; focalab sweep plan THIS_FILE shows its key",
      key, db_path, t.iteration, out);
  const auto r = harness::export_model(t.model, t.config, out, layout, header);
  if (!r.why_not_torchvision.empty()) {
    fmt::print(stderr, "focalab layout: {}\n", r.why_not_torchvision);
  }
  fmt::print(stderr, "wrote {} ({} tensors, {} layout; from {}) and {}\n", out, r.tensors,
             harness::layout_name(r.layout), t.checkpoint, r.config_path);
  if (!r.python.empty()) {
    fmt::print("# focalab trial {}: load {} in torchvision\n{}", key, out, r.python);
  }
  return kExitOk;
}

const char* kAnalyzeUsage = R"(Usage: focalab analyze loss-cdf --trial KEY [--gammas 0,0.5,1,2] [--images N] [options]

Figure 4 of the focal-loss paper from a done trial's final checkpoint: the model is run on the
trial's val images and every (anchor, class) pair is a binary example. Positives: the true class
of the anchors matched as foreground; negatives: every class of the anchors matched as background
(a uniform sample of --max-negatives of them). For each gamma the focal loss of every example is
computed from the model's probability, the examples are sorted by loss and the cumulative loss,
normalized per set, is stored in the results database (table loss_cdf, replacing an earlier
analysis of the trial) and printed as: the smallest share of the hardest examples that carries
half of the set's loss. The plot: --out, or later `focalab plot --kind loss-cdf`.

Examples:
  focalab query trials                                  # the trial keys
  focalab analyze loss-cdf --trial 0f6903c44ae08994 --out fig4.png
  focalab analyze loss-cdf --trial 0f6903c44ae08994 --gammas 0,1,2,5 --images 500
)";

std::vector<double> parse_gammas(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v) || v < 0 || v > 100) {
      throw UsageError(fmt::format("--gammas '{}': '{}' is not allowed (a comma list of numbers "
                                   "in [0, 100], e.g. 0,0.5,1,2)", text, item));
    }
    out.push_back(v);
  }
  if (out.empty()) throw UsageError("--gammas: give at least one value, e.g. 0,0.5,1,2");
  return out;
}

int analyze_command(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    fmt::print("{}", kAnalyzeUsage);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "loss-cdf") {
    throw UsageError(fmt::format("analyze '{}': allowed: loss-cdf (see focalab analyze --help)",
                                 args[0]));
  }
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "trial", po::value<std::string>()->required(), "trial key (16 hex digits; focalab query trials)")(
      "gammas", po::value<std::string>()->default_value("0,0.5,1,2"), "comma list of gamma values")(
      "images", po::value<int64_t>()->default_value(0), "val images to use, in order (0 = all)")(
      "max-negatives", po::value<int64_t>()->default_value(10000000),
      "negatives sampled uniformly beyond this many (the paper: ~1e7)")(
      "checkpoint", po::value<std::string>()->default_value(""),
      "checkpoint file (default: the one the trial recorded)")(
      "data-root", po::value<std::string>()->default_value(""),
      "coco trials: the dataset's data.root here (data.root is not stored with the trial)")(
      "out", po::value<std::string>()->default_value(""), "also plot the curves: FILE.svg|.png|.pdf")(
      "device", po::value<std::string>()->default_value("auto"), "auto | cpu | cuda | cuda:N")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (default: all cores)");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(Args(args.begin() + 1, args.end()), opts, {}, {}, vm, kAnalyzeUsage)) return kExitOk;
  const std::string key = vm["trial"].as<std::string>();
  reports::check_trial_key(key);
  harness::LossCdfOptions options;
  options.gammas = parse_gammas(vm["gammas"].as<std::string>());
  options.images = vm["images"].as<int64_t>();
  options.max_negatives = vm["max-negatives"].as<int64_t>();
  if (options.images < 0) throw UsageError("--images must be >= 0 (0 = all val images)");
  if (options.max_negatives < 1) throw UsageError("--max-negatives must be >= 1");
  const std::string out = vm["out"].as<std::string>();
  if (!out.empty()) reports::check_figure_path(out);
  const std::string db_path = vm["db"].as<std::string>();
  reports::require_results_db(db_path);
  harness::Store store(db_path);
  const harness::StoredTrial trial =
      harness::find_done_trial(store, db_path, key, "analyze loss-cdf");
  std::string checkpoint = vm["checkpoint"].as<std::string>();
  std::error_code ec;
  if (checkpoint.empty()) {
    checkpoint = harness::trial_checkpoint_file(db_path, key, trial.checkpoint_path);
  } else if (!std::filesystem::is_regular_file(checkpoint, ec)) {
    throw DataError(fmt::format("{}: checkpoint of trial {} not found (moved? pass --checkpoint "
                                "FILE)", checkpoint, key));
  }
  harness::TrialConfig config = harness::config_from_json(
      trial.config_json, harness::stored_config_name(db_path, key));
  config.data.root = vm["data-root"].as<std::string>();
  harness::finalize_config(config, fmt::format("{}: trial {}", db_path, key));
  harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
  const auto start = std::chrono::steady_clock::now();
  const auto result = harness::analyze_loss_cdf(config, checkpoint, options, device);
  store.write_loss_cdf(trial.id, result);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (result.iteration != config.train.iterations) {
    fmt::print(stderr, "warning: {} holds iteration {}, not the trial's last ({})\n", checkpoint,
               result.iteration, config.train.iterations);
  }
  const auto& first = result.curves.front();
  fmt::print("trial {} after {} iterations, {} val images: {} positive and {} negative examples "
             "({:.1f} s)\n",
             key, result.iteration, result.images, first.count, result.curves[1].count, seconds);
  fmt::print("{:>7}  {:<9}  {:>26}  {:>23}\n", "gamma", "examples", "hardest share w/ half loss",
             "loss of easiest 80%");
  for (const auto& c : result.curves) {
    // the easiest 80%: the grid point at fraction 0.8
    const auto& f = harness::loss_cdf_fractions();
    const size_t at = static_cast<size_t>(std::find(f.begin(), f.end(), 0.8) - f.begin());
    fmt::print("{:>7g}  {:<9}  {:>25.4f}%  {:>22.2f}%\n", c.gamma, c.examples,
               100 * c.hardest_half, 100 * c.cumulative[at]);
  }
  fmt::print(stderr, "stored in {} (table loss_cdf)\n", db_path);
  if (!out.empty()) {
    reports::PlotOptions po;
    po.db_path = db_path;
    po.kind = "loss-cdf";
    po.out = out;
    po.trial = key;
    fmt::print(stderr, "{}\n", reports::make_plot(po));
  }
  return kExitOk;
}

}  // namespace focalab::harness::cli

namespace focalab::harness::cli {

int devices_command(const Args& args) {
  if (!args.empty()) {
    if (args[0] == "-h" || args[0] == "--help") {
      fmt::print("Usage: focalab devices\n\nWhat this machine offers focalab: CPU threads (the "
                 "default of `threads:`) and whether LibTorch can use CUDA, and how many "
                 "devices (`device: cuda:N`, `sweep run --devices`).\n\nExample:\n  focalab "
                 "devices\n");
      return kExitOk;
    }
    throw UsageError(fmt::format("devices: unexpected argument '{}' (see focalab devices --help)",
                                 args[0]));
  }
  fmt::print("CPU: {} threads\nCUDA: {}\n", max_threads(),
             torch::cuda::is_available()
                 ? fmt::format("usable ({} device(s))", torch::cuda::device_count())
                 : std::string("not usable (CPU only)"));
  return kExitOk;
}

}  // namespace focalab::harness::cli
