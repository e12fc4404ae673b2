#pragma once
// COCO-shaped files generated deterministically, for `focalab bench eval|json` and for the tests
// that check the reader and the evaluation on the same data.

#include <cstdint>
#include <string>

namespace focalab::harness {
inline namespace eval {

// A ground truth shaped like COCO val2017 and detections for it: `images` images of 640 x 480,
// 1..14 boxes each (mean ~7.3) over COCO 2017's 80 category ids, 1% crowd, sides 4..400 px on a
// log scale, each with a square polygon; `dets_per_image` detections per image, 60% near a GT
// box of the image (its class, the box jittered), the rest anywhere, scores uniform.
struct CocoValPair {
  std::string gt_json;  // instances: images, categories, annotations
  std::string dt_json;  // results: a list of {image_id, category_id, bbox, score}
  int64_t gt_boxes = 0;
  int64_t categories = 0;
};
CocoValPair generate_coco_val_pair(int64_t images, int64_t dets_per_image, uint64_t seed);

// An instances file shaped like COCO 2017 train's, streamed to `path`: `images` images (with
// licenses, URLs and dates as COCO has them), `annotations` annotations whose polygons fill the
// file to about `mb` MB, 80 categories. Returns the bytes written; throws DataError when the file
// cannot be written.
int64_t write_coco_train_shaped(const std::string& path, int64_t mb, int64_t images,
                                int64_t annotations, uint64_t seed);

}  // namespace eval
}  // namespace focalab::harness
