#pragma once
// COCO bounding-box evaluation with pycocotools' COCOeval semantics, bit-exact wherever a
// comparison depends on it (the final means are summed in order where numpy sums pairwise, so
// the 12 numbers agree to ~1e-15): IoU thresholds and recall points as numpy.linspace computes them, IoU from
// (x, y, w, h) as maskApi.c's bbIou (crowd: intersection over the detection's area), area ranges
// all / small / medium / large (32², 96²) on the GT's `area` field and the detection's w * h,
// maxDets 1 / 10 / 100, detections sorted by score (stable) per image and category and cut at
// 100, greedy matching in GT order with ignored (crowd, out-of-range) GTs last, unmatched
// detections outside the area range ignored, images concatenated in increasing id order and
// merged by a stable sort on score, precision made monotone before sampling, -1 for categories
// without GT and means over the rest. Plain C++ (OpenMP over categories); no torch.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace focalab::harness {
inline namespace eval {

// A box as COCO stores it: top-left corner, width, height.
struct EvalBox {
  double x, y, w, h;
  static EvalBox corners(double x1, double y1, double x2, double y2) {
    return {x1, y1, x2 - x1, y2 - y1};
  }
};

struct GroundTruth {
  int64_t image_id;
  int64_t category;  // contiguous class index
  EvalBox box;
  double area;       // the annotation's area (COCO: segment area); box area for synthetic data
  bool iscrowd = false;
  // The annotation id. pycocotools records a match as the GT's id, so a detection matched to a
  // GT with id 0 counts as unmatched; reproduced for parity.
  int64_t id = 1;
};

struct Detection {
  int64_t image_id;
  int64_t category;
  EvalBox box;
  double score;
};

// The 12 numbers of COCOeval.summarize(), in its order, and per-class AP / AP50.
struct CocoSummary {
  static constexpr const char* kNames[12] = {"AP",  "AP50", "AP75", "APs",  "APm", "APl",
                                             "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  std::array<double, 12> stats{};  // -1 where undefined (no GT)
  std::vector<double> class_ap;    // per category, -1 if it has no GT
  std::vector<double> class_ap50;
  // Inference wall time per image, milliseconds: the model's forward pass and postprocessing
  // (decode, NMS) up to the detections on the host, without data loading and COCO scoring (the
  // paper's Table 1(e) timing); -1 where not measured (eval-json).
  double ms_per_image = -1;
  // Bootstrap replicates over the images (evaluate_coco's `bootstrap`): per replicate AP, AP50
  // and AP75 of the images drawn with replacement. Empty when not asked for.
  std::vector<std::array<double, 3>> bootstrap;
  double ap() const { return stats[0]; }
  double ap50() const { return stats[1]; }
  double ap75() const { return stats[2]; }
};

// Evaluates over the images `image_ids` (any order; evaluated in increasing id order, as
// COCOeval's sorted imgIds) and categories [0, num_categories). GTs and detections of other
// images or categories are skipped. Within an image and category, GTs and equal-score
// detections keep the order they are given in (pycocotools: the annotation order of the file).
//
// With `bootstrap` > 0 it also resamples the images: replicate r draws as many images as there
// are, with replacement (index = splitmix64(kBootstrapSeed + r * n + i) mod n over the sorted
// ids), and scores them as one set — each drawn image counted as often as drawn — reusing the
// matching of the full evaluation. The same ids give the same draws, so the replicates of two
// models evaluated on one image set are paired.
CocoSummary evaluate_coco(const std::vector<int64_t>& image_ids, int64_t num_categories,
                          const std::vector<GroundTruth>& gts, const std::vector<Detection>& dts,
                          int64_t bootstrap = 0);

// The replicates focalab's training keeps per evaluation, and the seed of their draws.
inline constexpr int64_t kBootstrapResamples = 200;
inline constexpr uint64_t kBootstrapSeed = 20170807;

}  // namespace eval
}  // namespace focalab::harness
