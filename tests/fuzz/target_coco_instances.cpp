#include "fuzz_targets.h"

#include "harness/coco_json.h"
#include "harness/errors.h"

namespace focalab::fuzz {

void coco_instances(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".json");
  try {
    read_coco_dataset(file.path);
  } catch (const Error&) {
  }
}

}  // namespace focalab::fuzz
