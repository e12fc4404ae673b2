// `focalab --help`, `focalab --version`, and the table of the commands that need no model.

#include <fmt/format.h>
#include <torch/version.h>

#include <string>

#include "focalab/version.h"
#include "harness/cli/commands.h"
#include "harness/util/errors.h"

namespace focalab::harness::cli {

std::string version_text() {
  return fmt::format("focalab {} (git {})\nLibTorch {}.{}.{}\n", FOCALAB_VERSION,
                     FOCALAB_GIT_REVISION, TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
                     TORCH_VERSION_PATCH);
}

CommandFn light_command(const std::string& name) {
  if (name == "report") return report_command;
  if (name == "query") return query_command;
  if (name == "db") return db_merge_command;
  if (name == "eval-json") return eval_json_command;
  if (name == "config") return config_command;
  return nullptr;
}

int help_or_version(const Args& argv) {
  if (argv.empty() || argv[0] == "-h" || argv[0] == "--help" || argv[0] == "help") {
    fmt::print("{}", main_help());
    return argv.empty() ? kExitUsage : kExitOk;
  }
  if (argv[0] == "--version" || argv[0] == "version") {
    fmt::print("{}", version_text());
    return kExitOk;
  }
  return -1;
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
  plot --kind K --out F.svg|png|pdf AP vs gamma/alpha with the paper's, loss share, loss curves,
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
  devices                          CPU threads and CUDA devices LibTorch can use
  --version                        focalab's version and the LibTorch it was built with

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
