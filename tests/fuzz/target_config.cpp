#include "fuzz_targets.h"

#include <cstring>

#include "harness/config/config.h"
#include "harness/config/sweep.h"
#include "harness/util/errors.h"

namespace focalab::harness::fuzz {

void config(const uint8_t* data, size_t size) {
  const auto* nul = size ? static_cast<const uint8_t*>(std::memchr(data, 0, size)) : nullptr;
  const size_t yaml_size = nul ? static_cast<size_t>(nul - data) : size;
  std::vector<std::string> overrides;
  if (nul) {
    std::string rest(reinterpret_cast<const char*>(nul + 1), size - yaml_size - 1);
    size_t start = 0;
    while (start <= rest.size()) {
      const size_t end = std::min(rest.find('\n', start), rest.size());
      overrides.push_back(rest.substr(start, end - start));
      start = end + 1;
    }
  }
  const InputFile file(data, yaml_size, ".yaml");
  try {
    const auto spec = harness::load_sweep(file.path, overrides);
    harness::expand_sweep(spec);
  } catch (const harness::Error&) {
  }
}

}  // namespace focalab::harness::fuzz
