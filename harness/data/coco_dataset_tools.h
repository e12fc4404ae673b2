#pragma once
// COCO-format dataset tools: exporting focalab's synthetic benchmark as a COCO dataset (JSON +
// PNG files, readable by any COCO tool), and checking a COCO dataset (`focalab data check`).

#include <cstdint>
#include <string>
#include <vector>

#include "harness/config/trial_config.h"

namespace focalab::harness {
inline namespace data {

struct SynthExport {
  int64_t images = 0, annotations = 0;
  std::vector<std::string> files;  // the JSON files written
};

// Writes OUT/train/*.png, OUT/val/*.png, OUT/annotations/instances_{train,val}.json for the
// synthetic dataset `data` (data.kind synthetic). Image ids are index + 1, category ids 1..K in
// the order of the class names, area = box width x height, iscrowd 0. `max_images` > 0 caps each
// split. Throws DataError when OUT cannot be written.
SynthExport write_synthetic_coco(const harness::DataConfig& data, const std::string& out,
                                 int64_t max_images = 0);

struct DatasetCheck {
  std::string report;  // the statistics and problems, human-readable
  int64_t problems = 0;
  std::string first_problem;
};

// Reads a COCO instances file and its image folder: statistics (images, boxes per category, COCO
// small / medium / large, crowd) and problems (missing or unreadable images, annotations that
// name unknown images or categories, repeated ids, zero or negative box sizes, boxes outside the
// image). Throws DataError when the JSON itself cannot be read.
DatasetCheck check_coco_dataset(const std::string& annotations, const std::string& images);

}  // namespace data
}  // namespace focalab::harness
