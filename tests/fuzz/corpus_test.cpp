// Replays the fuzzers' seed corpus (tests/fuzz/corpus/TARGET) and every input a fuzzer found
// that once crashed (tests/fuzz/regressions/TARGET) through the same entry points: each must be
// handled — accepted, or rejected with focalab's one-line errors — without another exception.
// In the sanitizer build (scripts/sanitize.sh) this also checks them for memory errors.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz_targets.h"

namespace focalab::harness::fuzz {
namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  void (*run)(const uint8_t*, size_t);
};

class Corpus : public ::testing::TestWithParam<Target> {};

TEST_P(Corpus, EveryInputIsHandled) {
  const Target t = GetParam();
  int inputs = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(FOCALAB_FUZZ_DIR) / kind / t.name;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream f(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(entry.path().string());
      EXPECT_NO_THROW(t.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      ++inputs;
    }
  }
  EXPECT_GE(inputs, 1) << "no seed inputs for " << t.name;
}

INSTANTIATE_TEST_SUITE_P(Fuzz, Corpus,
                         ::testing::Values(Target{"config", config},
                                           Target{"coco_instances", coco_instances},
                                           Target{"coco_results", coco_results},
                                           Target{"image", image}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace focalab::harness::fuzz
