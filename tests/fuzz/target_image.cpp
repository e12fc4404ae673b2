#include "fuzz_targets.h"

#include "harness/data/image_io.h"
#include "harness/util/errors.h"

namespace focalab::harness::fuzz {

void image(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".img");
  try {
    probe_image(file.path);
    read_image(file.path);
  } catch (const harness::Error&) {
  }
}

}  // namespace focalab::harness::fuzz
