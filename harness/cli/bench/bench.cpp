// `focalab bench loss`: the fused focal loss against torchvision.ops.sigmoid_focal_loss (run by
// /usr/bin/python3 in the same session with the same thread count) and against a memory copy.
// `focalab bench infer`: RetinaNet-R50-FPN inference per image against torchvision's.
// `focalab bench eval`: eval-json on a COCO-val-sized input.

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <random>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/analysis/predict.h"
#include "harness/cli/bench/bench_common.h"
#include "harness/cli/cli_common.h"
#include "harness/cli/commands.h"
#include "harness/config/config.h"
#include "harness/config/sweep.h"
#include "harness/data/dataset.h"
#include "harness/data/image_io.h"
#include "harness/eval/coco_files.h"
#include "harness/eval/coco_json.h"
#include "harness/eval/coco_synth.h"
#include "harness/interop/weights.h"
#include "harness/run/device.h"
#include "harness/run/progress.h"
#include "harness/store/store.h"
#include "harness/util/errors.h"
#include "harness/util/paths.h"
#include "losses/classification_loss.h"
#include "losses/focal_loss.h"
#include "losses/loss_breakdown.h"
#include "losses/loss_histogram.h"

namespace focalab::harness::cli {

namespace po = boost::program_options;

namespace {

std::optional<double> torchvision_seconds(int64_t threads, int64_t m, int64_t k, int reps,
                                          const std::string& device, std::string& why) {
  auto last = run_python("loss_torchvision.py",
                         fmt::format("{} {} {} {} {}", threads, m, k, reps, device), why);
  if (!last) return std::nullopt;
  try {
    return std::stod(*last);
  } catch (const std::exception&) {
    why = "unexpected output: " + *last;
    return std::nullopt;
  }
}

int bench_loss(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (0 = all cores)")(
      "reps", po::value<int>()->default_value(15), "timed repetitions (median reported)")(
      "pairs", po::value<int>()->default_value(61),
      "paired runs of the fused loss without and with accounting (its overhead)")(
      "images", po::value<int64_t>()->default_value(2), "images (x 49,104 anchors at 512 px)")(
      "classes", po::value<int64_t>()->default_value(80), "classes")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu | cuda[:N]")(
      "no-torchvision", "skip the torchvision comparison");
  po::variables_map vm;
  if (!parse(args, opts, vm,
        "Usage: focalab bench loss [options]\n\n"
        "Times the focal loss forward + backward (gamma 2, alpha .25) on RetinaNet-sized inputs\n"
        "(default 2 images x 49,104 anchors x 80 classes: 512 px on COCO classes): focalab's fused\n"
        "kernel with and without loss accounting, the composed ATen version, and\n"
        "torchvision.ops.sigmoid_focal_loss run by /usr/bin/python3 with the same threads; prints\n"
        "medians, ratios and effective bandwidth against a memory copy. The accounting's overhead\n"
        "is the median ratio of --pairs runs with and without it, taken alternately.\n\n"
        "Example:\n  focalab bench loss --threads 2\n")) {
    return kExitOk;
  }
  const int reps = std::max(1, vm["reps"].as<int>());
  const int pairs = std::max(1, vm["pairs"].as<int>());
  const int64_t threads = harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
  const int64_t m = vm["images"].as<int64_t>() * 49104, k = vm["classes"].as<int64_t>();
  if (m <= 0 || k <= 0) throw UsageError("--images and --classes must be > 0");
  const auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };

  torch::manual_seed(0);
  auto x = (torch::randn({m, k}) * 2 - 4).to(device);  // logits around the prior's -4.6
  auto labels = torch::full({m}, -1, torch::kLong);
  auto pos = torch::randint(0, m, {m / 300}, torch::kLong);
  labels.index_put_({pos}, torch::randint(0, k, {pos.size(0)}, torch::kLong));
  labels.index_put_({torch::randint(0, m, {m / 100}, torch::kLong)}, -2);  // ignored anchors
  labels = labels.to(device);
  // The same targets as dense 0/1 (what torchvision's interface takes; ignored rows are
  // background there).
  auto dense = losses::one_hot_targets(labels, k, torch::kFloat);
  const double normalizer = static_cast<double>(pos.size(0));
  losses::LossBreakdown breakdown(k);

  auto step = [&](const std::function<torch::Tensor(const torch::Tensor&)>& loss_fn) {
    return [&, loss_fn] {
      auto xx = x.detach().requires_grad_(true);
      loss_fn(xx).backward();
      sync();
    };
  };
  auto run = [&](const std::function<torch::Tensor(const torch::Tensor&)>& loss_fn) {
    return median_seconds(reps, step(loss_fn));
  };
  struct Row {
    std::string name;
    double seconds;
    double bytes;  // memory the op must move at least (read inputs, write gradient)
  };
  const double elems = static_cast<double>(m * k);
  std::vector<Row> rows;
  // The fused loss with and without accounting, timed alternately (the overhead is their ratio).
  const PairedTimes fused = paired_median_seconds(
      pairs, step([&](const torch::Tensor& xx) {
        return losses::focal_loss_sum(xx, labels, 2.0, 0.25, 1.0 / normalizer);
      }),
      step([&](const torch::Tensor& xx) {
        auto loss = losses::focal_loss_sum(xx, labels, 2.0, 0.25, 1.0 / normalizer, &breakdown);
        breakdown.finish_iteration(0, normalizer);
        return loss;
      }));
  rows.push_back({"focalab fused, labels", fused.a, 8 * elems});
  rows.push_back({"focalab fused, labels + accounting", fused.b, 8 * elems});
  breakdown.take();
  rows.push_back({"focalab fused, dense targets", run([&](const torch::Tensor& xx) {
                    return losses::sigmoid_focal_loss_fused(xx, dense, 2.0, 0.25,
                                                            losses::Reduction::kSum);
                  }),
                  12 * elems});
  rows.push_back({"composed ATen ops (C++)", run([&](const torch::Tensor& xx) {
                    return losses::sigmoid_focal_loss(xx, dense, 2.0, 0.25).sum();
                  }),
                  12 * elems});
  const double copy = median_seconds(reps, [&] {
    auto y = x.clone();
    sync();
  });
  std::optional<double> tv;
  std::string why = "--no-torchvision";
  if (!vm.count("no-torchvision")) {
    tv = torchvision_seconds(threads, m, k, reps, device.is_cuda() ? "cuda" : "cpu", why);
  }

  fmt::print("focal loss forward + backward, {} x {} logits (float32, {:.0f} MB), gamma 2, "
             "alpha .25, {} on {} with {} threads, median of {}\n",
             m, k, 4 * elems / 1e6, losses::fused_focal_kernel_name(),
             device.str(), threads, reps);
  fmt::print("memory copy (clone): {:.2f} ms = {:.1f} GB/s\n\n", 1e3 * copy, 8 * elems / copy / 1e9);
  fmt::print("| {:<36} | {:>9} | {:>14} | {:>10} | {:>12} |\n", "implementation", "ms",
             "x torchvision", "GB/s", "of memcpy");
  fmt::print("|{:-<38}|{:->10}:|{:->15}:|{:->11}:|{:->13}:|\n", "", "", "", "", "");
  auto print_row = [&](const std::string& name, double s, double bytes) {
    fmt::print("| {:<36} | {:>9.2f} | {:>14} | {:>10.1f} | {:>11.0f}% |\n", name, 1e3 * s,
               tv ? fmt::format("{:.1f}x", *tv / s) : "–", bytes / s / 1e9,
               100 * (bytes / s) / (8 * elems / copy));
  };
  if (tv) print_row("torchvision.ops.sigmoid_focal_loss", *tv, 12 * elems);
  for (const auto& r : rows) print_row(r.name, r.seconds, r.bytes);
  fmt::print("\naccounting overhead: {:+.1f}% of the fused loss (median of {} paired runs' "
             "ratios; quartiles {:+.1f}%, {:+.1f}%)\n",
             100 * (fused.ratio - 1), pairs, 100 * (fused.ratio_q1 - 1), 100 * (fused.ratio_q3 - 1));
  if (!tv) fmt::print("torchvision not measured: {}\n", why);
  return kExitOk;
}


int bench_infer(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (0 = all cores)")(
      "reps", po::value<int>()->default_value(5), "timed images (median reported)")(
      "height", po::value<int64_t>()->default_value(480), "input image height")(
      "width", po::value<int64_t>()->default_value(640), "input image width")(
      "min-size", po::value<int64_t>()->default_value(800), "transform: shorter side")(
      "max-size", po::value<int64_t>()->default_value(1333), "transform: longer side bound")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu | cuda[:N]");
  po::variables_map vm;
  if (!parse(args, opts, vm,
        "Usage: focalab bench infer [options]\n\n"
        "Times inference per image of RetinaNet-R50-FPN (torchvision's retinanet_resnet50_fpn,\n"
        "91 classes): transform, forward, postprocess. torchvision runs in /usr/bin/python3 with\n"
        "the same threads and saves its weights and a random image; focalab loads both, so the\n"
        "two run the same model on the same input. Prints medians, the ratio and the number of\n"
        "detections of each.\n\n"
        "Example:\n  focalab bench infer --threads 2\n")) {
    return kExitOk;
  }
  const int reps = std::max(1, vm["reps"].as<int>());
  const int64_t threads = harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
  const int64_t h = vm["height"].as<int64_t>(), w = vm["width"].as<int64_t>();
  if (h < 1 || w < 1) throw UsageError("--height and --width must be >= 1");
  ArchPreset preset = arch_preset("retinanet_resnet50_fpn", 91);
  preset.transform.min_size = vm["min-size"].as<int64_t>();
  preset.transform.max_size = vm["max-size"].as<int64_t>();
  check_transform_sizes(preset.transform.min_size, preset.transform.max_size);

  const ScratchDir scratch("infer");
  const std::string& dir = scratch.path();
  std::string why;
  auto tv = run_python("infer_torchvision.py",
                       fmt::format("{} {} {} {} {} {} {}", threads, dir, h, w,
                                   preset.transform.min_size, preset.transform.max_size, reps),
                       why);
  models::RetinaNet model(preset.model);
  torch::Tensor image;
  if (tv) {
    load_model_weights(model, dir + "/weights.pth");
    image = read_image(dir + "/image.png");
  } else {
    torch::manual_seed(0);
    image = torch::rand({3, h, w});
  }
  model->to(device);
  model->eval();
  int64_t detections = 0;
  const double focalab = median_seconds(reps, [&] {
    auto det = predict_image(model, image, preset.transform, preset.postprocess, device);
    detections = det.scores.size(0);
  });
  const auto sized = models::resized_size({h, w}, preset.transform.min_size,
                                          preset.transform.max_size).first;
  fmt::print("RetinaNet-R50-FPN inference, 91 classes, {}x{} image resized to {}x{}, {} on {} "
             "threads, median of {}\n\n",
             w, h, sized.second, sized.first, device.str(), threads, reps);
  fmt::print("| {:<34} | {:>10} | {:>14} | {:>10} |\n", "implementation", "ms/image",
             "x torchvision", "detections");
  fmt::print("|{:-<36}|{:->11}:|{:->15}:|{:->11}:|\n", "", "", "", "");
  double tv_seconds = 0;
  int64_t tv_dets = 0;
  if (tv) {
    std::istringstream in(*tv);
    in >> tv_seconds >> tv_dets;
    fmt::print("| {:<34} | {:>10.1f} | {:>14} | {:>10} |\n", "torchvision retinanet_resnet50_fpn",
               1e3 * tv_seconds, "1.00x", tv_dets);
  }
  fmt::print("| {:<34} | {:>10.1f} | {:>14} | {:>10} |\n", "focalab predict_image", 1e3 * focalab,
             tv ? fmt::format("{:.2f}x", tv_seconds / focalab) : "–", detections);
  if (!tv) fmt::print("\ntorchvision not measured: {}\n", why);
  return kExitOk;
}


int bench_eval(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "images", po::value<int64_t>()->default_value(5000), "images (COCO val2017: 5000)")(
      "dets", po::value<int64_t>()->default_value(100), "detections per image")(
      "threads", po::value<int64_t>()->default_value(0), "threads (0 = all cores)")(
      "seed", po::value<int64_t>()->default_value(0), "generator seed")(
      "keep", po::value<std::string>(), "write gt.json and dt.json into this folder and keep them");
  po::variables_map vm;
  if (!parse(args, opts, vm,
        "Usage: focalab bench eval [options]\n\n"
        "Times `eval-json` on a COCO-val-sized input generated deterministically: 5000 images,\n"
        "~36,000 GT boxes over COCO's 80 category ids (1% crowd, all sizes), 100 detections per\n"
        "image (60% near a GT), written as JSON; prints the time to parse and to evaluate, the\n"
        "peak memory, and pycocotools' time on the same files when it is installed.\n\n"
        "Example:\n  focalab bench eval --threads 2\n")) {
    return kExitOk;
  }
  const int64_t threads = harness::configure_threads(vm["threads"].as<int64_t>());
  const int64_t n_images = vm["images"].as<int64_t>(), n_dets = vm["dets"].as<int64_t>();
  if (n_images < 1 || n_images > 1000000 || n_dets < 1 || n_dets > 1000) {
    throw UsageError("--images must be in [1, 1000000], --dets in [1, 1000]");
  }
  CocoValPair pair = generate_coco_val_pair(n_images, n_dets,
                                            static_cast<uint64_t>(vm["seed"].as<int64_t>()));
  std::string& gt = pair.gt_json;
  std::string& dt = pair.dt_json;
  const int64_t n_gt = pair.gt_boxes;
  std::optional<ScratchDir> scratch;
  std::string dir;
  if (vm.count("keep")) {
    dir = vm["keep"].as<std::string>();
    harness::require_output_dir(dir, "--keep");
    std::filesystem::create_directories(dir);
  } else {
    scratch.emplace("eval");
    dir = scratch->path();
  }
  harness::write_file_atomically(dir + "/gt.json", gt, "--keep");
  harness::write_file_atomically(dir + "/dt.json", dt, "--keep");
  const size_t gt_bytes = gt.size(), dt_bytes = dt.size();
  gt.clear(), gt.shrink_to_fit(), dt.clear(), dt.shrink_to_fit();

  auto now = [] { return std::chrono::steady_clock::now(); };
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  const auto t0 = now();
  const auto gt_data = read_coco_dataset(dir + "/gt.json");
  const auto dt_data = read_coco_results(dir + "/dt.json");
  const auto t1 = now();
  const CocoFileEval eval = evaluate_coco_files(dir + "/gt.json", dir + "/dt.json");
  const auto t2 = now();
  // The bootstrap a training evaluation adds (200 resamples of the images), against the same
  // evaluation without it, both on the parsed files.
  const auto t3 = now();
  const auto plain = evaluate_coco_data(gt_data, dt_data, "gt.json", "dt.json");
  const auto t4 = now();
  const auto boot =
      evaluate_coco_data(gt_data, dt_data, "gt.json", "dt.json", harness::kBootstrapResamples);
  const auto t5 = now();
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  fmt::print("COCO-val-sized evaluation: {} images, {} GT boxes, {} categories, {} detections; "
             "gt.json {:.1f} MB, dt.json {:.1f} MB; {} threads\n\n",
             n_images, n_gt, pair.categories, dt_data.size(), gt_bytes / 1e6, dt_bytes / 1e6,
             threads);
  fmt::print("| {:<44} | {:>8} |\n|{:-<46}|{:->9}:|\n", "focalab", "seconds", "", "");
  fmt::print("| {:<44} | {:>8.2f} |\n", "parse both files (simdjson)", secs(t0, t1));
  fmt::print("| {:<44} | {:>8.2f} |\n", "eval-json total (parse + evaluate)", secs(t1, t2));
  fmt::print("| {:<44} | {:>8.2f} |\n", "  of which evaluate + accumulate + summarize",
             secs(t1, t2) - secs(t0, t1));
  fmt::print("| {:<44} | {:>8.2f} |\n", "evaluate, parsed files", secs(t3, t4));
  fmt::print("| {:<44} | {:>8.2f} |\n",
             fmt::format("evaluate + bootstrap ({} resamples)", harness::kBootstrapResamples), secs(t4, t5));
  std::vector<double> reps;
  for (const auto& r : boot.summary.bootstrap) reps.push_back(r[0]);
  std::sort(reps.begin(), reps.end());
  if (!reps.empty()) {
    fmt::print("\nthe bootstrap: {:.2f}x the evaluation without it (AP {:.4f}; 5th and 195th of "
               "the {} replicates: [{:.4f}, {:.4f}])\n",
               secs(t4, t5) / secs(t3, t4), plain.summary.stats[0], reps.size(),
               reps[reps.size() * 25 / 1000], reps[reps.size() * 975 / 1000]);
  }
  fmt::print("\nAP {:.4f}, AP50 {:.4f}; peak resident memory {:.0f} MB (including the "
             "generator)\n", eval.summary.stats[0], eval.summary.stats[1],
             static_cast<double>(usage.ru_maxrss) / 1024.0);
  std::string why;
  auto py = run_python("eval_pycocotools.py", dir + "/gt.json " + dir + "/dt.json", why);
  if (py && *py == "missing") {
    fmt::print("pycocotools not measured: not installed for /usr/bin/python3\n");
  } else if (py) {
    std::istringstream in(*py);
    double seconds = 0, ap = 0;
    in >> seconds >> ap;
    fmt::print("pycocotools: {:.2f} s (AP {:.4f}) = {:.1f}x focalab's eval-json\n", seconds, ap,
               seconds / secs(t1, t2));
  } else {
    fmt::print("pycocotools not measured: {}\n", why);
  }
  return kExitOk;
}


// Resident memory of this process now, in MB (/proc/self/statm).
double resident_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6;
}

int bench_json(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "mb", po::value<int64_t>()->default_value(448),
      "size of the generated instances file in MB (COCO 2017 train: 448)")(
      "images", po::value<int64_t>()->default_value(118287), "images (COCO 2017 train: 118287)")(
      "annotations", po::value<int64_t>()->default_value(860001),
      "annotations (COCO 2017 train: 860001)")(
      "keep", po::value<std::string>(), "write the file here and keep it")(
      "seed", po::value<int64_t>()->default_value(0), "generator seed");
  po::variables_map vm;
  if (!parse(args, opts, vm,
        "Usage: focalab bench json [options]\n\n"
        "Loads a COCO instances file shaped like COCO 2017 train's (118,287 images with their\n"
        "license / url / date fields, 860,001 annotations with polygon segmentations, 80\n"
        "categories; 448 MB), generated deterministically, with focalab's reader (simdjson\n"
        "On-Demand), and prints the time and the memory it takes; then the same file with\n"
        "Python's json.load (what pycocotools' COCO() does) in /usr/bin/python3.\n\n"
        "Example:\n  focalab bench json --mb 448\n")) {
    return kExitOk;
  }
  const int64_t mb = vm["mb"].as<int64_t>(), n_images = vm["images"].as<int64_t>(),
                n_ann = vm["annotations"].as<int64_t>();
  if (mb < 1 || mb > 8192 || n_images < 1 || n_images > 10000000 || n_ann < 0 ||
      n_ann > 100000000) {
    throw UsageError("--mb must be in [1, 8192], --images in [1, 1e7], --annotations in [0, 1e8]");
  }
  std::optional<ScratchDir> scratch;
  std::string path;
  if (vm.count("keep")) {
    path = vm["keep"].as<std::string>();
  } else {
    scratch.emplace("json");
    path = scratch->path() + "/instances.json";
  }

  const int64_t written = write_coco_train_shaped(path, mb, n_images, n_ann,
                                                  static_cast<uint64_t>(vm["seed"].as<int64_t>()));

  const double before = resident_mb();
  const auto t0 = std::chrono::steady_clock::now();
  CocoDataset data = read_coco_dataset(path);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const double peak = static_cast<double>(usage.ru_maxrss) / 1024.0;
  fmt::print("COCO-2017-train-shaped instances file: {:.1f} MB, {} images, {} annotations, {} "
             "categories\n\n",
             static_cast<double>(written) / 1e6, data.images.size(), data.annotations.size(),
             data.categories.size());
  fmt::print("| {:<40} | {:>8} | {:>22} |\n|{:-<42}|{:->9}:|{:->23}:|\n", "reader", "seconds",
             "peak resident MB", "", "", "");
  fmt::print("| {:<40} | {:>8.2f} | {:>22} |\n", "focalab read_coco_dataset (simdjson)", seconds,
             fmt::format("{:.0f} (before: {:.0f})", peak, before));
  std::string why;
  auto py = run_python("json_load_python.py", path, why);
  if (py) {
    std::istringstream in(*py);
    double py_seconds = 0, py_peak = 0;
    in >> py_seconds >> py_peak;
    fmt::print("| {:<40} | {:>8.2f} | {:>22.0f} |\n", "Python json.load (pycocotools' COCO())",
               py_seconds, py_peak);
    fmt::print("\nfocalab: {:.1f}x faster than json.load", py_seconds / seconds);
    if (peak - before > 50) {  // below that the ratio says nothing
      fmt::print(", {:.1f}x less memory (added by loading)", py_peak / (peak - before));
    }
    fmt::print("\n");
  } else {
    fmt::print("\nPython json.load not measured: {}\n", why);
  }
  return kExitOk;
}

int bench_data(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "samples", po::value<int64_t>()->default_value(256), "train samples to load")(
      "threads", po::value<int64_t>()->default_value(1),
      "CPU threads for LibTorch while loading (default 1: one loader thread's speed)");
  po::options_description hidden;
  hidden.add_options()("file", po::value<std::string>()->required(), "")(
      "overrides", po::value<std::vector<std::string>>(), "");
  po::positional_options_description pos;
  pos.add("file", 1).add("overrides", -1);
  po::options_description all;
  all.add(opts).add(hidden);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::ostringstream ss;
    ss << opts;
    fmt::print(
        "Usage: focalab bench data CONFIG.yaml [key=value ...] [options]\n\n"
        "Times the data pipeline of a configuration's first trial on one thread: loading a\n"
        "train sample (synthetic: generating it; COCO: reading, decoding and resizing the\n"
        "image), flipping and batching, and prints the time per sample and per batch (synthetic:\n"
        "also a second pass, reading the images kept in memory, data.cache_mb). The\n"
        "trainer loads data.workers batches ahead in parallel, so training waits for data only\n"
        "when an iteration is faster than (ms per batch / data.workers); the step log's data\n"
        "wait (train_steps.data_ms) measures it during training.\n\n"
        "Examples:\n  focalab bench data experiments/configs/tiny.yaml\n"
        "  focalab bench data my_coco.yaml data.min_size=800 --samples 64\n\n{}",
        ss.str());
    return kExitOk;
  }
  po::notify(vm);
  const int64_t samples = vm["samples"].as<int64_t>();
  if (samples < 1 || samples > 1000000) throw UsageError("--samples must be in [1, 1000000]");
  harness::configure_threads(vm["threads"].as<int64_t>());
  std::vector<std::string> overrides;
  if (vm.count("overrides")) overrides = vm["overrides"].as<std::vector<std::string>>();
  const auto spec = harness::load_sweep(vm["file"].as<std::string>(), overrides);
  const auto config = harness::expand_sweep(spec).front().config;
  const auto t_open = std::chrono::steady_clock::now();
  const auto dataset = harness::open_dataset(config.data, harness::Split::kTrain);
  const double open_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_open).count();
  const int64_t batch = config.train.batch_size;
  // One pass over samples 0..samples-1 (wrapping around the split).
  struct Pass {
    double per_sample = 0, per_batch = 0;  // ms
    int64_t pixels = 0;                    // over all the samples
  };
  auto pass = [&]() {
    Pass out;
    std::vector<harness::Sample> pending;
    double load_s = 0, collate_s = 0;
    for (int64_t i = 0; i < samples; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto sample = dataset->get(i % dataset->size());
      if (i % 2) harness::flip_horizontal(sample);
      const auto t1 = std::chrono::steady_clock::now();
      load_s += std::chrono::duration<double>(t1 - t0).count();
      out.pixels += sample.image.size(1) * sample.image.size(2);
      pending.push_back(std::move(sample));
      if (static_cast<int64_t>(pending.size()) == batch || i + 1 == samples) {
        const auto t2 = std::chrono::steady_clock::now();
        auto b = harness::collate(pending);
        collate_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count();
        pending.clear();
      }
    }
    out.per_sample = 1000 * load_s / static_cast<double>(samples);
    const double batches = std::ceil(static_cast<double>(samples) / static_cast<double>(batch));
    out.per_batch = out.per_sample * static_cast<double>(batch) + 1000 * collate_s / batches;
    return out;
  };
  const Pass first = pass();
  const double side = std::sqrt(static_cast<double>(first.pixels) / static_cast<double>(samples));
  fmt::print("data.kind {}: {} train images ({} opening it), {} samples of {:.0f} x {:.0f} px "
             "on average\n\n",
             name_of(config.data.kind), dataset->size(), harness::format_duration(open_s), samples,
             side, side);
  fmt::print("| {:<44} | {:>10} |\n|{:-<46}|{:->11}:|\n", "one thread", "ms", "", "");
  fmt::print("| {:<44} | {:>10.2f} |\n", "load one sample (+ flip)", first.per_sample);
  fmt::print("| {:<44} | {:>10.2f} |\n", fmt::format("one batch of {} (+ collate)", batch),
             first.per_batch);
  // Synthetic images are generated once and then kept (data.cache_mb): the later epochs' cost.
  const bool kept = config.data.kind == harness::DataKind::kSynthetic &&
                    config.data.cache_mb > 0 && samples <= dataset->size();
  if (kept) {
    const Pass again = pass();
    fmt::print("| {:<44} | {:>10.2f} |\n", "again, kept in memory (+ flip)", again.per_sample);
    fmt::print("| {:<44} | {:>10.2f} |\n",
               fmt::format("again, one batch of {} (+ collate)", batch), again.per_batch);
  }
  fmt::print("\nWith data.workers = {}, training waits for data only if an iteration takes "
             "less than {:.1f} ms{}.\n",
             config.data.workers,
             first.per_batch / static_cast<double>(std::max<int64_t>(1, config.data.workers)),
             kept ? " (the first epoch; later ones read the images kept in memory, up to "
                    "data.cache_mb)"
                  : "");
  return kExitOk;
}

int bench_store(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "classes", po::value<int64_t>()->default_value(80), "object classes (COCO: 80)")(
      "intervals", po::value<int64_t>()->default_value(200), "logging intervals written")(
      "iteration-ms", po::value<double>()->default_value(80),
      "training iteration time to compare with (tiny.yaml on 2 cores: ~80 ms)")(
      "log-every", po::value<int64_t>()->default_value(20), "iterations per logging interval");
  po::variables_map vm;
  if (!parse(args, opts, vm,
        "Usage: focalab bench store [options]\n\n"
        "Times what the trainer writes to the results database every train.log_every\n"
        "iterations — the step row, the loss breakdown (3 categories x (classes + 1) rows), the\n"
        "interval row and the loss histogram — each interval one transaction in a WAL database\n"
        "on the temporary directory's disk, and prints it as a share of the training time of\n"
        "an interval.\n\n"
        "Example:\n  focalab bench store --classes 80 --iteration-ms 80\n")) {
    return kExitOk;
  }
  const int64_t k = vm["classes"].as<int64_t>(), n = vm["intervals"].as<int64_t>();
  const double iteration_ms = vm["iteration-ms"].as<double>();
  const int64_t log_every = vm["log-every"].as<int64_t>();
  if (k < 1 || k > 100000 || n < 1 || n > 1000000 || iteration_ms <= 0 || log_every < 1) {
    throw UsageError("--classes in [1, 100000], --intervals in [1, 1e6], --iteration-ms > 0, "
                     "--log-every >= 1");
  }
  const ScratchDir scratch("store");
  const std::string& dir = scratch.path();
  harness::Store store(dir + "/bench.db");
  harness::SweepSpec spec;
  spec.name = "bench";
  harness::TrialSpec trial{harness::TrialConfig{}, "{}", "0000000000000000", {}};
  const auto rows = store.register_sweep(spec, {trial});
  std::mt19937_64 rng(0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> times;
  for (int64_t i = 1; i <= n; ++i) {
    harness::StepLog step;
    step.iteration = i * log_every;
    step.lr = 0.01;
    step.loss_cls = u(rng);
    step.loss_box = u(rng);
    step.loss_total = step.loss_cls + step.loss_box;
    step.num_pos = 100 * u(rng);
    step.normalizer = step.num_pos;
    step.ms_per_iter = iteration_ms;
    losses::LossBreakdownSums sums;
    sums.num_classes = k;
    sums.iterations = log_every;
    sums.count.resize(static_cast<size_t>(3 * k));
    sums.loss_sum.resize(static_cast<size_t>(3 * k));
    for (size_t j = 0; j < sums.count.size(); ++j) {
      sums.count[j] = 1e5 * u(rng);
      sums.loss_sum[j] = u(rng);
    }
    losses::LossHistogramSums histogram;
    histogram.iterations = 1;
    const size_t bins = static_cast<size_t>(losses::kHistogramGroups * losses::kHistogramBins);
    histogram.count.resize(bins);
    histogram.loss_sum.resize(bins);
    for (size_t j = 0; j < bins; ++j) {
      histogram.count[j] = 1e4 * u(rng);
      histogram.loss_sum[j] = u(rng);
    }
    const auto t0 = std::chrono::steady_clock::now();
    store.write_interval(rows.front().id, step, sums, histogram);
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1000);
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2], p95 = times[times.size() * 95 / 100];
  const double share = median / (iteration_ms * static_cast<double>(log_every));
  fmt::print("results database writes, {} classes, {} intervals\n\n", k, n);
  fmt::print("| {:<44} | {:>10} |\n|{:-<46}|{:->11}:|\n", "", "ms", "", "");
  fmt::print("| {:<44} | {:>10.2f} |\n", "one logging interval, median", median);
  fmt::print("| {:<44} | {:>10.2f} |\n", "one logging interval, 95th percentile", p95);
  fmt::print("| {:<44} | {:>10.1f} |\n",
             fmt::format("training time of an interval ({} x {} ms)", log_every, iteration_ms),
             iteration_ms * static_cast<double>(log_every));
  fmt::print("\nlogging costs {:.2f}% of the training time (median)\n", 100 * share);
  return kExitOk;
}

}  // namespace

// Runs `argv` with stdout and stderr to /dev/null and waits for it; its exit status, or -1.
int run_quietly(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

int bench_startup(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "runs", po::value<int>()->default_value(20), "runs of each command and program (>= 3)");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, vm,
        "Usage: focalab bench startup [--runs N] [--db FILE]\n\n"
        "Times the commands that need no model as users run them — `focalab`, the light front\n"
        "without LibTorch — against the same commands in focalab-torch (LibTorch linked, the\n"
        "program that runs training): --version, config keys, report / query --help (start-up\n"
        "and option parsing alone), and query trials / report (the most recent sweep) on --db\n"
        "when it holds one. Runs alternate between the two programs; median wall time of each\n"
        "(process start to exit) and the median ratio. For scale, the start of Python with\n"
        "torchvision imported (/usr/bin/python3 -c 'import torchvision').\n\n"
        "Example:\n  focalab bench startup --db runs.db\n")) {
    return kExitOk;
  }
  const int runs = vm["runs"].as<int>();
  if (runs < 3 || runs > 10000) throw UsageError(fmt::format("--runs {}: allowed 3..10000", runs));
  namespace fs = std::filesystem;
  const fs::path torch_program = fs::read_symlink("/proc/self/exe");
  const char* front_env = std::getenv("FOCALAB_FRONT");
  const fs::path front = front_env && *front_env ? fs::path(front_env)
                                                 : torch_program.parent_path() / "focalab";
  const std::string db = vm["db"].as<std::string>();
  std::vector<std::vector<std::string>> commands = {
      {"--version"}, {"config", "keys"}, {"report", "--help"}, {"query", "--help"}};
  if (run_quietly({front.string(), "report", "--db", db}) == 0) {
    commands.push_back({"query", "trials", "--db", db});
    commands.push_back({"report", "--db", db});
  } else {
    fmt::print("(query and report not timed: --db {} holds no sweep to report)\n", db);
  }
  fmt::print("Start-up to exit, median of {} runs each, runs alternated:\n\n"
             "| command | focalab ms | focalab-torch ms | focalab-torch / focalab |\n"
             "|---|---:|---:|---:|\n", runs);
  for (const auto& command : commands) {
    auto with = [&](const fs::path& program) {
      std::vector<std::string> argv = {program.string()};
      argv.insert(argv.end(), command.begin(), command.end());
      return argv;
    };
    const auto a = with(front), b = with(torch_program);
    const PairedTimes t = paired_median_seconds(
        runs, [&] { run_quietly(a); }, [&] { run_quietly(b); });
    std::string shown;
    for (const auto& word : command) shown += (shown.empty() ? "" : " ") + (word == db ? "FILE" : word);
    fmt::print("| `{}` | {:.1f} | {:.0f} | {:.0f}x [{:.0f}, {:.0f}] |\n", shown, t.a * 1e3,
               t.b * 1e3, t.ratio, t.ratio_q1, t.ratio_q3);
  }
  if (fs::exists("/usr/bin/python3")) {
    const double py = median_seconds(std::max(3, runs / 4), [] {
      run_quietly({"/usr/bin/python3", "-c", "import torchvision"});
    });
    fmt::print("\nPython with torchvision imported: {:.0f} ms\n", py * 1e3);
  }
  return kExitOk;
}

int bench_command(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    fmt::print("Usage: focalab bench train|loss|infer|eval|json|data|store|startup [options]\n\n"
               "  train  RetinaNet training iterations against torchvision (--profile: stages)\n"
               "  loss   focal loss forward + backward against torchvision\n"
               "  infer  RetinaNet-R50-FPN inference per image against torchvision\n"
               "  eval   COCO evaluation of a COCO-val-sized results file\n"
               "  json   loading a 448 MB COCO-2017-train-shaped instances file\n"
               "  data   the data pipeline of a config (load, flip, batch) per sample\n"
               "  store  the results-database writes of a logging interval\n"
               "  startup  the commands that need no model: focalab against focalab-torch\n\n"
               "Examples:\n  focalab bench train --threads 2 --profile\n"
               "  focalab bench loss --threads 2\n  focalab bench infer --threads 2\n"
               "  focalab bench eval\n  focalab bench json --mb 448\n"
               "  focalab bench data experiments/configs/tiny.yaml\n"
               "  focalab bench store\n  focalab bench startup --db runs.db\n");
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "train") return bench_train(Args(args.begin() + 1, args.end()));
  if (args[0] == "loss") return bench_loss(Args(args.begin() + 1, args.end()));
  if (args[0] == "infer") return bench_infer(Args(args.begin() + 1, args.end()));
  if (args[0] == "eval") return bench_eval(Args(args.begin() + 1, args.end()));
  if (args[0] == "json") return bench_json(Args(args.begin() + 1, args.end()));
  if (args[0] == "data") return bench_data(Args(args.begin() + 1, args.end()));
  if (args[0] == "store") return bench_store(Args(args.begin() + 1, args.end()));
  if (args[0] == "startup") return bench_startup(Args(args.begin() + 1, args.end()));
  throw UsageError(fmt::format("bench: unknown benchmark '{}' (allowed: train, loss, infer, "
                               "eval, json, data, store, startup)", args[0]));
}

}  // namespace focalab::harness::cli
