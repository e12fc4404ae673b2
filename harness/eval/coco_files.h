#pragma once
// Scoring a COCO results file against a COCO ground-truth file the way pycocotools does it
// (COCO(gt).loadRes(dt), COCOeval(gt, dt, "bbox").evaluate/accumulate/summarize), and the
// outputs of `focalab eval-json`.

#include <string>
#include <vector>

#include "harness/eval/coco_eval.h"
#include "harness/eval/coco_json.h"

namespace focalab::harness {
inline namespace eval {

struct CocoFileEval {
  harness::CocoSummary summary;
  std::vector<CocoCategory> categories;  // in increasing id order: summary.class_ap's order
  int64_t num_images = 0, num_annotations = 0, num_detections = 0;
  int64_t detections_unknown_category = 0;  // skipped, as pycocotools does
};

// pycocotools' semantics for the inputs: all GT images are evaluated (also those without
// detections), categories are the GT's in increasing id order, detections of other categories
// are skipped, a detection on an image the GT does not have is an error ("results do not
// correspond to the ground truth", loadRes's assertion), a detection's area is w * h, and a
// repeated annotation id resolves to the last annotation with that id (pycocotools' dict).
// A repeated category id counts once (np.unique). Throws DataError naming the file.
CocoFileEval evaluate_coco_files(const std::string& gt_path, const std::string& dt_path);

// The same on data already read; the names are used in error messages.
// `bootstrap`: replicates over the images, as evaluate_coco's.
CocoFileEval evaluate_coco_data(const CocoDataset& gt, const std::vector<CocoResult>& dt,
                                const std::string& gt_path, const std::string& dt_path,
                                int64_t bootstrap = 0);

// The 12 lines of COCOeval.summarize().
std::string summary_text(const harness::CocoSummary& summary);

// {"AP": ..., ..., "ARl": ..., "per_class": [{"category_id", "name", "AP", "AP50"}, ...]}
std::string summary_json(const CocoFileEval& eval);

}  // namespace eval
}  // namespace focalab::harness
