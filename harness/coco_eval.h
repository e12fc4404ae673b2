#pragma once
// COCO-style bounding-box evaluation with pycocotools' COCOeval semantics: IoU thresholds
// .50:.05:.95, 101 recall points, area ranges all/small/medium/large (32², 96²), maxDets 1/10/100,
// detections sorted by score per image and category and cut at maxDet, greedy matching to the
// best-IoU unmatched GT, ignored GTs matched last, unmatched detections outside the area range
// ignored, precision made monotone before sampling, -1 for categories without GT and means over
// the categories that have GT. Plain C++ on CPU data; no torch.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace focalab::harness {

struct EvalBox {
  double x1, y1, x2, y2;
};

struct GroundTruth {
  int64_t image_id;
  int64_t category;  // contiguous class index
  EvalBox box;
  double area;       // the annotation's area (COCO: segment area); box area for synthetic data
  bool iscrowd = false;
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
  double ap() const { return stats[0]; }
  double ap50() const { return stats[1]; }
  double ap75() const { return stats[2]; }
};

// REQUIRES: categories in [0, num_categories); image ids of detections are a subset of
// `image_ids`.
CocoSummary evaluate_coco(const std::vector<int64_t>& image_ids, int64_t num_categories,
                          const std::vector<GroundTruth>& gts, const std::vector<Detection>& dts);

}  // namespace focalab::harness
