// `focalab bench train`: one RetinaNet training iteration (forward, anchor matching, losses,
// backward, SGD step) of focalab against torchvision's, with the same threads, in the same run;
// --profile splits focalab's iteration into stages.

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "harness/cli/bench/bench_common.h"
#include "harness/cli/cli_common.h"
#include "harness/config/presets.h"
#include "harness/run/device.h"
#include "harness/train/amp.h"
#include "harness/train/train_step.h"
#include "harness/train/trainer.h"
#include "harness/util/errors.h"
#include "losses/loss_breakdown.h"
#include "losses/loss_histogram.h"

namespace focalab::harness::cli {

namespace po = boost::program_options;

namespace {

// One benchmarked model: focalab's trial keys for it and torchvision's counterpart.
struct TrainCase {
  std::string id;         // r50 | tiny | regime (also the argument of the python script)
  std::string label;
  harness::TrialConfig config;
  int64_t size = 0, batch = 0;
  int64_t min_boxes = 1, max_boxes = 4;
  int reps = 0;
};

TrainCase r50_case(int64_t size, int64_t batch) {
  TrainCase c;
  c.id = "r50";
  c.label = "RetinaNet-R50-FPN, 91 classes";
  auto& m = c.config.model;  // torchvision's retinanet_resnet50_fpn with an ImageNet backbone
  m.backbone = harness::BackboneKind::kResNet50;
  m.norm = harness::BackboneNorm::kFrozenBn;
  m.frozen_stages = 2;  // trainable_backbone_layers = 3
  m.fpn_channels = 256;
  m.p6_from = harness::P6From::kP5;
  m.head_convs = 4;
  m.head_norm = harness::HeadNormKind::kNone;
  m.anchor_sizes = {32, 64, 128, 256, 512};
  m.anchor_integer_sizes = true;
  c.config.data.num_classes = 91;
  c.size = size;
  c.batch = batch;
  c.min_boxes = 2;
  c.max_boxes = 8;
  c.reps = 5;
  return c;
}

// The CPU presets: tiny (experiments/configs/tiny.yaml) and regime (paper_regime.yaml: the same
// model with 102 classes and one small object an image).
TrainCase preset_case(const std::string& id) {
  TrainCase c;
  c.id = id;
  const std::string preset = id == "tiny" ? "tiny" : "paper_regime";
  c.config = preset_config(preset);
  c.label = fmt::format("{} preset (ResNet-10, GN heads), {} classes", preset,
                        c.config.data.num_classes);
  c.size = c.config.data.image_size;
  c.batch = c.config.train.batch_size;
  c.min_boxes = c.config.data.min_objects;
  c.max_boxes = c.config.data.max_objects;
  c.reps = 20;
  return c;
}

// Random ground truth: per image min_boxes..max_boxes boxes of 1/16 to 1/2 of the image side.
std::vector<std::vector<std::array<double, 5>>> random_boxes(const TrainCase& c) {
  std::mt19937_64 rng(0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::vector<std::array<double, 5>>> boxes(static_cast<size_t>(c.batch));
  const double s = static_cast<double>(c.size);
  const int64_t k = c.config.data.num_classes;
  for (auto& image : boxes) {
    const int64_t count = c.min_boxes + static_cast<int64_t>(rng() % static_cast<uint64_t>(
                                            c.max_boxes - c.min_boxes + 1));
    for (int64_t b = 0; b < count; ++b) {
      const double w = s * (1.0 / 16 + u(rng) * (0.5 - 1.0 / 16));
      const double h = s * (1.0 / 16 + u(rng) * (0.5 - 1.0 / 16));
      const double x = u(rng) * (s - w), y = u(rng) * (s - h);
      image.push_back({std::round(x), std::round(y), std::round(x + w), std::round(y + h),
                       static_cast<double>(rng() % static_cast<uint64_t>(k))});
    }
  }
  return boxes;
}

struct CaseResult {
  double focalab_seconds = 0;
  std::optional<double> torchvision_seconds;
  std::optional<double> torchvision_kept_seconds;  // with focalab's allocator settings
  std::string why_not;
  int64_t focalab_params = 0, torchvision_params = 0;
  std::vector<std::pair<std::string, double>> stages;  // seconds per iteration
  int64_t log_every = 20;
};

CaseResult run_case(const TrainCase& c, const torch::Device& device, int64_t threads, int warmup,
                    bool profile, bool torchvision) {
  CaseResult r;
  const auto boxes = random_boxes(c);
  if (torchvision) {
    const ScratchDir scratch("train");
    const std::string file = scratch.path() + "/boxes.txt";
    {
      std::ofstream out(file);
      for (size_t i = 0; i < boxes.size(); ++i) {
        for (const auto& b : boxes[i]) {
          out << fmt::format("{} {} {} {} {} {}\n", i, b[0], b[1], b[2], b[3],
                             static_cast<int64_t>(b[4]));
        }
      }
    }
    const std::string script_args =
        fmt::format("{} {} {} {} {} {} {} {} {} {}", threads, c.id, c.size, c.batch, c.reps,
                    warmup, file, device.is_cuda() ? "cuda" : "cpu",
                    harness::name_of(c.config.train.amp), c.config.data.num_classes);
    auto measure = [&](const std::string& env) -> std::optional<double> {
      std::string why;
      auto last = run_python("train_torchvision.py", script_args, why, env);
      if (!last) {
        r.why_not = why;
        return std::nullopt;
      }
      std::istringstream in(*last);
      double seconds = 0;
      if (!(in >> seconds >> r.torchvision_params)) {
        r.why_not = "unexpected output: " + *last;
        return std::nullopt;
      }
      return seconds;
    };
    r.torchvision_seconds = measure("");
    if (r.torchvision_seconds) r.torchvision_kept_seconds = measure(kKeepFreedMemoryEnv);
  } else {
    r.why_not = "--no-torchvision";
  }

  // focalab: the trainer's iteration (harness::TrainStep), loss accounting included.
  torch::manual_seed(0);
  models::RetinaNet model(harness::retinanet_options(c.config));
  model->to(device);
  model->train();
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters()) {
    if (p.requires_grad()) {
      params.push_back(p);
      r.focalab_params += p.numel();
    }
  }
  auto sgd_ptr = harness::make_sgd(params, c.config.train.momentum, c.config.train.weight_decay);
  harness::Sgd& sgd = *sgd_ptr;
  const harness::TrainStep step(c.config, c.config.data.num_classes);
  losses::LossBreakdown breakdown(c.config.data.num_classes, {c.config.loss.hard_score});
  losses::LossHistogram histogram;
  double ema = 100;
  torch::manual_seed(1);
  const auto images = torch::rand({c.batch, 3, c.size, c.size});
  std::vector<torch::Tensor> gt_boxes, gt_classes;
  for (const auto& image : boxes) {
    std::vector<float> xyxy;
    std::vector<int64_t> cls;
    for (const auto& b : image) {
      xyxy.insert(xyxy.end(), {static_cast<float>(b[0]), static_cast<float>(b[1]),
                               static_cast<float>(b[2]), static_cast<float>(b[3])});
      cls.push_back(static_cast<int64_t>(b[4]));
    }
    gt_boxes.push_back(torch::tensor(xyxy).view({-1, 4}));
    gt_classes.push_back(torch::tensor(cls, torch::kLong));
  }
  const double lr = 0.01;
  auto iteration = [&](harness::StageTimer* timer) {
    if (timer) timer->start();
    harness::StepInput input;
    input.images = images.to(device, /*non_blocking=*/true);
    for (size_t i = 0; i < gt_boxes.size(); ++i) {
      input.gt_boxes.push_back(gt_boxes[i].to(device, /*non_blocking=*/true));
      input.gt_classes.push_back(gt_classes[i].to(device, /*non_blocking=*/true));
      input.crowd_boxes.push_back(torch::zeros({0, 4}, input.gt_boxes.back().options()));
    }
    if (timer) timer->mark("data to device");
    auto losses = step.losses(model, input, ema, &breakdown, timer);
    const double loss = losses.loss.item<double>();  // the trainer's divergence check
    if (!std::isfinite(loss)) throw Error(fmt::format("bench train: {} diverged", c.label));
    step.update(losses, sgd, lr, timer);
    if (timer) {
      // what the trainer does once per logging interval: the loss histogram and the flush
      step.record_histogram(losses, histogram);
      histogram.take();
      breakdown.take();
      timer->mark("logging");
    } else {
      breakdown.take();
    }
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  r.focalab_seconds = median_seconds(c.reps, [&] { iteration(nullptr); });
  if (profile) {
    harness::StageTimer timer(device);
    for (int i = 0; i < c.reps; ++i) iteration(&timer);
    for (auto [stage, seconds] : timer.totals()) {
      seconds /= c.reps;
      if (stage == "logging") seconds /= static_cast<double>(r.log_every);
      r.stages.emplace_back(stage, seconds);
    }
  }
  return r;
}

std::string ms(double seconds) {
  const double v = 1e3 * seconds;
  return v >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v);
}

}  // namespace

int bench_train(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "model", po::value<std::string>()->default_value("both"),
      "r50 | tiny | regime | both (r50 and tiny) | all")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (0 = all cores)")(
      "reps", po::value<int>()->default_value(0),
      "timed iterations, median reported (0: 5 for r50, 20 for tiny and regime)")(
      "warmup", po::value<int>()->default_value(2), "untimed iterations first")(
      "size", po::value<int64_t>()->default_value(512), "r50: image side (pixels)")(
      "batch", po::value<int64_t>()->default_value(2), "r50: images per iteration")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu | cuda[:N]")(
      "amp", po::value<std::string>()->default_value("off"),
      "off | bf16 | fp16 (CUDA): train.amp for focalab, torch.autocast (+ GradScaler for fp16) "
      "for torchvision")(
      "profile", "also time focalab's iteration stage by stage")(
      "no-torchvision", "skip the torchvision comparison");
  po::variables_map vm;
  if (!parse(args, opts, vm,
        "Usage: focalab bench train [options]\n\n"
        "Times one training iteration — forward, anchor matching, classification loss with its\n"
        "accounting, box loss, backward, SGD step — of RetinaNet-R50-FPN (91 classes, 512 x 512,\n"
        "batch 2, random boxes, torchvision's trainable_backbone_layers = 3) and of the `tiny` CPU\n"
        "preset (128 x 128, batch 8; `--model regime`: the paper_regime preset, 102 classes and\n"
        "one object an image) against torchvision's retinanet_resnet50_fpn and a torchvision\n"
        "RetinaNet built with the preset's backbone and heads. torchvision runs\n"
        "in /usr/bin/python3 with the same threads on the same boxes, as installed and again with\n"
        "the allocator settings focalab gives itself; prints medians and focalab's time as a\n"
        "fraction of torchvision's. --profile adds focalab's time per stage.\n\n"
        "Examples:\n  focalab bench train --threads 2\n"
        "  focalab bench train --model tiny --profile\n"
        "  focalab bench train --model regime --threads 1 --profile\n"
        "  focalab bench train --model r50 --device cuda --size 640 --batch 16\n"
        "  focalab bench train --model r50 --device cuda --size 640 --batch 16 --amp bf16\n")) {
    return kExitOk;
  }
  const std::string which = vm["model"].as<std::string>();
  if (which != "r50" && which != "tiny" && which != "regime" && which != "both" &&
      which != "all") {
    throw UsageError(
        fmt::format("--model: '{}' is not one of r50, tiny, regime, both, all", which));
  }
  const int64_t size = vm["size"].as<int64_t>(), batch = vm["batch"].as<int64_t>();
  if (size < 128 || size > 2048 || size % 128 != 0) {
    throw UsageError(fmt::format("--size: must be a multiple of 128 in [128, 2048], got {}", size));
  }
  if (batch < 1 || batch > 256) {
    throw UsageError(fmt::format("--batch: must be in [1, 256], got {}", batch));
  }
  const int reps = vm["reps"].as<int>(), warmup = vm["warmup"].as<int>();
  if (reps < 0 || warmup < 0) throw UsageError("--reps and --warmup must be >= 0");
  const int64_t threads = harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
  const bool profile = vm.count("profile") > 0;
  const std::string amp = vm["amp"].as<std::string>();
  const auto amp_mode = harness::enum_named<harness::AmpMode>(amp);
  if (!amp_mode) throw UsageError(fmt::format("--amp: '{}' is not one of off, bf16, fp16", amp));
  if (const auto why = harness::amp_unsupported(*amp_mode, device); !why.empty()) {
    throw UsageError("--amp: " + why);
  }

  std::vector<TrainCase> cases;
  const bool both = which == "both" || which == "all";
  if (which == "r50" || both) cases.push_back(r50_case(size, batch));
  if (which == "tiny" || both) cases.push_back(preset_case("tiny"));
  if (which == "regime" || which == "all") cases.push_back(preset_case("regime"));
  for (auto& c : cases) {
    if (reps > 0) c.reps = reps;
    c.config.train.amp = *amp_mode;
  }
  fmt::print("RetinaNet training iteration (forward, matching, losses + accounting, backward, SGD "
             "step) on {} with {} threads, mixed precision {}; median of the timed iterations "
             "after {} warm-up\n\n",
             device.str(), threads, amp, warmup);
  std::vector<CaseResult> results;
  for (const auto& c : cases) {
    results.push_back(run_case(c, device, threads, warmup, profile, !vm.count("no-torchvision")));
  }
  fmt::print("| {:<46} | {:>15} | {:>5} | {:>14} | {:>10} | {:>22} | {:>16} | {:>12} |\n",
             "model", "batch", "iters", "torchvision ms", "focalab ms", "focalab / torchvision",
             "tv, kept mem ms", "focalab / it");
  fmt::print("|{:-<48}|{:-<17}|{:->6}:|{:->15}:|{:->11}:|{:->23}:|{:->17}:|{:->13}:|\n", "", "",
             "", "", "", "", "", "");
  auto ratio = [](double a, const std::optional<double>& b) {
    return b ? fmt::format("{:.2f}x", a / *b) : std::string("–");
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const auto& r = results[i];
    fmt::print("| {:<46} | {:>15} | {:>5} | {:>14} | {:>10} | {:>22} | {:>16} | {:>12} |\n",
               c.label, fmt::format("{} x {} x {}", c.batch, c.size, c.size), c.reps,
               r.torchvision_seconds ? ms(*r.torchvision_seconds) : "–", ms(r.focalab_seconds),
               ratio(r.focalab_seconds, r.torchvision_seconds),
               r.torchvision_kept_seconds ? ms(*r.torchvision_kept_seconds) : "–",
               ratio(r.focalab_seconds, r.torchvision_kept_seconds));
  }
  std::string env = kKeepFreedMemoryEnv;
  while (!env.empty() && env.back() == ' ') env.pop_back();
  fmt::print("\n(tv, kept mem: torchvision's process with the allocator settings focalab sets for "
             "itself, freed memory kept for reuse: {})\n", env);
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& r = results[i];
    if (!r.torchvision_seconds) {
      fmt::print("\n{}: torchvision not measured: {}\n", cases[i].label, r.why_not);
    } else if (r.torchvision_params != r.focalab_params) {
      fmt::print("\n{}: trainable parameters differ: torchvision {}, focalab {}\n",
                 cases[i].label, r.torchvision_params, r.focalab_params);
    }
  }
  if (profile) {
    for (size_t i = 0; i < cases.size(); ++i) {
      const auto& r = results[i];
      double total = 0;
      for (const auto& s : r.stages) total += s.second;
      fmt::print("\nfocalab, {} ({} x {} x {}), per iteration (mean of {}):\n\n", cases[i].label,
                 cases[i].batch, cases[i].size, cases[i].size, cases[i].reps);
      fmt::print("| {:<16} | {:>9} | {:>6} |\n|{:-<18}|{:->10}:|{:->7}:|\n", "stage", "ms",
                 "share", "", "", "");
      for (const auto& [stage, seconds] : r.stages) {
        fmt::print("| {:<16} | {:>9.2f} | {:>5.1f}% |\n", stage, 1e3 * seconds,
                   100 * seconds / total);
      }
      fmt::print("| {:<16} | {:>9.2f} | {:>5.1f}% |\n", "total", 1e3 * total, 100.0);
      fmt::print("\n(loss: the fused classification loss with its accounting, the box loss; "
                 "logging: the loss histogram and the flush, once every {} iterations)\n",
                 r.log_every);
    }
  }
  return kExitOk;
}

}  // namespace focalab::harness::cli
