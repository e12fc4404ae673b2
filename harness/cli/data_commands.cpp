// `focalab data synth|check|stats`, `eval-json` and `config keys`.

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
#include "harness/eval/loss_cdf.h"
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

const char* kDataUsage = R"(Usage: focalab data synth --out DIR [SWEEP.yaml [key=value ...]] [--max-images N]
       focalab data check --annotations A.json --images DIR
       focalab data stats SWEEP.yaml [key=value ...] [--images N] [--trial N]

synth  writes focalab's synthetic dataset as a COCO dataset: DIR/train/*.png, DIR/val/*.png and
       DIR/annotations/instances_{train,val}.json, readable by any COCO tool. The data.* settings
       come from the sweep file's first trial (with overrides), else the defaults.
check  validates a COCO instances file against its image folder and prints statistics: images
       (without annotations, missing, unreadable), boxes per category, COCO small / medium /
       large, crowd boxes; and problems: unknown image or category ids, repeated ids, boxes
       without area or outside the image. Exit code 3 when it finds problems.
stats  how imbalanced a config's data is for its detector, before training: images, objects,
       classes, anchors per image, positive / ignored / negative anchors per image (matched
       with the config's anchors and matcher, as in training), binary negatives per positive
       (anchors x classes; the paper's COCO setting: ~80,000) and the share of the
       classification loss that comes from negatives at the prior initialization (CE,
       alpha-balanced CE, focal loss). Synthetic or COCO data; trial N of a sweep (default 0).

Examples:
  focalab data synth --out /tmp/shapes experiments/configs/tiny.yaml --max-images 200
  focalab data check --annotations /tmp/shapes/annotations/instances_val.json --images /tmp/shapes/val
  focalab data stats experiments/configs/paper_regime.yaml
  focalab data stats my_coco.yaml --images 5000
)";

int data_command(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    fmt::print("{}", kDataUsage);
    return args.empty() ? kExitUsage : kExitOk;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "stats") {
    po::options_description opts("Options");
    opts.add_options()("help,h", "show this help")(
        "images", po::value<int64_t>()->default_value(0), "count the first N training images (0 = all)")(
        "trial", po::value<int64_t>()->default_value(0), "the sweep's trial N (as `sweep plan` lists)");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::string>()->required(), "")(
        "overrides", po::value<std::vector<std::string>>(), "");
    po::positional_options_description pos;
    pos.add("file", 1).add("overrides", -1);
    po::variables_map vm;
    if (!parse(rest, opts, hidden, pos, vm, kDataUsage)) return kExitOk;
    const int64_t max_images = vm["images"].as<int64_t>(), n = vm["trial"].as<int64_t>();
    if (max_images < 0) throw UsageError("--images must be >= 0 (0 = all)");
    const auto spec = harness::load_sweep(vm["file"].as<std::string>(), overrides_of(vm));
    // The data must be here; backbone weights, which the statistics do not use, need not be.
    const auto trials = harness::expand_sweep(spec, harness::InputCheck::kList);
    if (n < 0 || n >= static_cast<int64_t>(trials.size())) {
      throw UsageError(fmt::format("--trial {}: the sweep has trials 0..{}", n, trials.size() - 1));
    }
    const auto& config = trials[static_cast<size_t>(n)].config;
    for (const auto& m : trials[static_cast<size_t>(n)].missing_inputs) {
      if (m.find(": data.") != std::string::npos) throw DataError(m);
    }
    harness::Progress progress;
    const auto stats = harness::compute_data_stats(config, max_images, [&](int64_t done, int64_t total) {
      progress.status(fmt::format("data stats: {}/{} images", done, total));
    });
    progress.line(fmt::format("data stats: {} images counted", stats.images));
    fmt::print("{}", stats.report(spec.source_path, config));
    return kExitOk;
  }
  if (args[0] == "synth") {
    po::options_description opts("Options");
    opts.add_options()("help,h", "show this help")(
        "out", po::value<std::string>()->required(), "output directory")(
        "max-images", po::value<int64_t>()->default_value(0), "cap each split (0 = all)");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::string>(), "")(
        "overrides", po::value<std::vector<std::string>>(), "");
    po::positional_options_description pos;
    pos.add("file", 1).add("overrides", -1);
    po::variables_map vm;
    if (!parse(rest, opts, hidden, pos, vm, kDataUsage)) return kExitOk;
    harness::DataConfig data;
    if (vm.count("file")) {
      const auto spec = harness::load_sweep(vm["file"].as<std::string>(), overrides_of(vm));
      data = harness::expand_sweep(spec).front().config.data;
    } else if (vm.count("overrides")) {
      throw UsageError("data synth: key=value overrides need a sweep or config file before them");
    }
    const int64_t max_images = vm["max-images"].as<int64_t>();
    if (max_images < 0) throw UsageError("--max-images must be >= 0");
    harness::require_output_dir(vm["out"].as<std::string>(), "--out");
    const auto start = std::chrono::steady_clock::now();
    const auto result = write_synthetic_coco(data, vm["out"].as<std::string>(), max_images);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("wrote {} images and {} boxes in {:.1f} s ({:.1f} ms/image): {}\n", result.images,
               result.annotations, seconds,
               1e3 * seconds / static_cast<double>(std::max<int64_t>(1, result.images)),
               fmt::join(result.files, ", "));
    return kExitOk;
  }
  if (args[0] == "check") {
    po::options_description opts("Options");
    opts.add_options()("help,h", "show this help")(
        "annotations", po::value<std::string>()->required(), "COCO instances JSON")(
        "images", po::value<std::string>()->required(), "folder of the images' file_name");
    po::variables_map vm;
    if (!parse(rest, opts, {}, {}, vm, kDataUsage)) return kExitOk;
    harness::require_input_file(vm["annotations"].as<std::string>(), "--annotations");
    const auto check = check_coco_dataset(vm["annotations"].as<std::string>(),
                                          vm["images"].as<std::string>());
    fmt::print("{}", check.report);
    if (check.problems) {
      std::fflush(stdout);
      throw DataError(fmt::format("{}: {} problem(s), the first: {}",
                                  vm["annotations"].as<std::string>(), check.problems,
                                  check.first_problem));
    }
    return kExitOk;
  }
  throw UsageError(fmt::format("data: unknown subcommand '{}' (allowed: synth, check)", args[0]));
}


}  // namespace focalab::harness::cli
