// One libFuzzer binary per target: compiled with -DFOCALAB_FUZZ_TARGET=config (coco_instances,
// coco_results, image). See scripts/fuzz.sh.
#include <torch/torch.h>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  focalab::harness::fuzz::FOCALAB_FUZZ_TARGET(data, size);
  return 0;
}
