#include "fuzz_targets.h"

#include "harness/eval/coco_json.h"
#include "harness/util/errors.h"

namespace focalab::harness::fuzz {

void coco_instances(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".json");
  try {
    read_coco_dataset(file.path);
  } catch (const harness::Error&) {
  }
}

}  // namespace focalab::harness::fuzz
