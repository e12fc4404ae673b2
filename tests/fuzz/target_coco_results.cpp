#include "fuzz_targets.h"

#include "harness/eval/coco_files.h"
#include "harness/eval/coco_json.h"
#include "harness/util/errors.h"

namespace focalab::harness::fuzz {

void coco_results(const uint8_t* data, size_t size) {
  // two images, categories 1 and 3, three boxes (one crowd)
  static const CocoDataset gt = [] {
    CocoDataset d;
    d.images = {{1, 100, 80, "a.jpg"}, {2, 60, 60, "b.jpg"}};
    d.categories = {{1, "cat"}, {3, "dog"}};
    d.annotations = {{10, 1, 1, {10, 10, 30, 20}, 600, false},
                     {11, 1, 3, {50, 40, 20, 20}, 400, false},
                     {12, 2, 1, {0, 0, 60, 30}, 1800, true}};
    return d;
  }();
  const InputFile file(data, size, ".json");
  try {
    evaluate_coco_data(gt, read_coco_results(file.path), "gt.json", file.path);
  } catch (const harness::Error&) {
  }
}

}  // namespace focalab::harness::fuzz
