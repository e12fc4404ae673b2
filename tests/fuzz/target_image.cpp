#include "fuzz_targets.h"

#include "harness/image_io.h"
#include "harness/errors.h"

namespace focalab::fuzz {

void image(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".img");
  try {
    probe_image(file.path);
    read_image(file.path);
  } catch (const Error&) {
  }
}

}  // namespace focalab::fuzz
