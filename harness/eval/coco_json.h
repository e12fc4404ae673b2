#pragma once
// Reading COCO JSON: instances files (images, categories, annotations) and results files (the
// list of {image_id, category_id, bbox, score} that detectors write), with simdjson's On-Demand
// parser: one pass over the text, nothing kept but the fields used, so a 448 MB instances file
// (COCO 2017 train) loads in about its own size of memory. Fields the evaluator and trainer do
// not use (segmentation, licenses, ...) are skipped. Every error is a DataError naming the file,
// the element (e.g. annotations[17].bbox) and what is allowed.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace focalab::harness {
inline namespace eval {

struct CocoImage {
  int64_t id = 0;
  int64_t width = 0, height = 0;  // 0 when the file does not give them
  std::string file_name;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
};

struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  std::array<double, 4> bbox{};  // x, y, width, height
  double area = 0;               // the `area` field; bbox width * height when absent
  bool iscrowd = false;
};

// The rules every annotation box must pass, shared by the training loader and `data check`: a
// box needs an area (w and h > 0) and must lie within its width x height image, give or take a
// pixel (not checked when the image size is unknown, 0).
enum class BoxCheck { kOk, kNoArea, kOutside };
BoxCheck check_box(const CocoAnnotation& a, int64_t width, int64_t height);
// The one-line problem of a box that failed check_box:
//   "annotation ID: bbox [x, y, w, h] has no area" / "... leaves the WxH image IMAGE_ID"
std::string box_problem(const CocoAnnotation& a, BoxCheck check, int64_t width, int64_t height);

struct CocoDataset {
  std::vector<CocoImage> images;
  std::vector<CocoCategory> categories;
  std::vector<CocoAnnotation> annotations;
};

// An instances file. Requires "images" and "categories"; "annotations" may be absent (a test
// set). Ids must be integers; bbox four numbers.
CocoDataset read_coco_dataset(const std::string& path);

struct CocoResult {
  int64_t image_id = 0;
  int64_t category_id = 0;
  std::array<double, 4> bbox{};  // x, y, width, height
  double score = 0;
};

// A results file: a JSON list of detections (pycocotools' loadRes input). An empty list, a
// non-list, or an element without image_id / category_id / bbox / score is a DataError.
std::vector<CocoResult> read_coco_results(const std::string& path);

}  // namespace eval
}  // namespace focalab::harness
