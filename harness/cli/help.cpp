// `focalab --version` and `focalab --help`.

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

std::string version_text() {
  return fmt::format("focalab {} (git {})\nLibTorch {}.{}.{}\nCUDA: {}\n", FOCALAB_VERSION,
                     FOCALAB_GIT_REVISION, TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
                     TORCH_VERSION_PATCH,
                     torch::cuda::is_available()
                         ? fmt::format("usable ({} device(s))", torch::cuda::device_count())
                         : std::string("not usable (CPU only)"));
}

std::string main_help() {
  return R"(focalab — loss ablations for dense object detection (RetinaNet, focal loss)

Usage: focalab <command> [options]      (focalab <command> --help for each)

Commands:
  sweep run FILE [key=value ...]   train + evaluate every unfinished trial of a sweep
  sweep plan FILE [key=value ...]  validate a sweep and list its trials
  sweep status                     trials per status in the results database
  train FILE [key=value ...]       train + evaluate one configuration, print its COCO AP
  sweep slurm FILE --out job.sbatch    an sbatch array script, one task per unfinished trial
  db merge SHARD.db ... --into DB  fold results databases (shards) into one
  report [--sweep NAME] [--format F]   comparison table of a sweep (md, csv, latex, json, html)
  plot --kind K --out F.svg|F.png  AP vs gamma/alpha with the paper's, loss share, loss curves,
                                   the loss CDF (Figure 4)
  serve [--port 8050]              the results in a browser, live while sweeps run (read-only)
  analyze loss-cdf --trial KEY     Figure 4: how the loss spreads over examples, per gamma
  query SQL|TABLE                  read-only SQL on the results database
  config keys                      every sweep key, its default and allowed values
  predict --arch A --weights W.pth --image I   detections of a checkpoint as COCO JSON
          --trial KEY --image I                the same for a trained trial
  eval --arch A --weights W.pth --annotations GT.json --images DIR   COCO AP of a checkpoint
       --trial KEY [--annotations GT.json --images DIR]   ... of a trained trial
  export --trial KEY --out model.pth           a trial's weights for torchvision (+ its config)
  data synth --out DIR | data check --annotations A.json --images DIR   COCO datasets
  eval-json --gt GT.json --dt DT.json          COCO AP of a results file (pycocotools' numbers)
  bench loss|infer|json|data|store  fused focal loss, inference vs torchvision; JSON, data, DB
  --version                        focalab, LibTorch and CUDA versions

Examples:
  focalab sweep run experiments/quick.yaml && focalab report
  focalab query "SELECT loss, gamma, alpha, AP, AP50 FROM results" --format csv

Common options: --db FILE (default $FOCALAB_DB or ./focalab.db), --device auto|cpu|cuda[:N],
--threads N (default: all cores). Set NO_COLOR to disable colors.
Exit codes: 0 ok, 1 trials failed/diverged, 2 usage or config error, 3 data error,
4 database error, 5 interrupted, 70 internal error.
)";
}

}  // namespace focalab::harness::cli
