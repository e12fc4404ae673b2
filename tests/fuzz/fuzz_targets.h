#pragma once
// The entry points the fuzzers drive, one input at a time, the way the CLI does: the input is
// written to a file and read by the same function a command uses. Each returns normally when the
// input is handled — accepted, or rejected with a harness::Error (the one-line errors with an
// exit code). Any other exception, a crash, a hang or a sanitizer report is a bug. Used by the
// libFuzzer binaries (tests/fuzz/CMakeLists.txt, scripts/fuzz.sh) and by the regression test
// that replays the seed corpus and every crash found (tests/fuzz/corpus_test.cpp).

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace focalab::harness::fuzz {

// A sweep file: the bytes before the first NUL are the YAML, the lines after it `key=value`
// overrides; loaded (base: files, validation) and expanded into its trials.
void config(const uint8_t* data, size_t size);
// A COCO instances file, read as `train` / `data check` / `eval` read it.
void coco_instances(const uint8_t* data, size_t size);
// A COCO results file (`eval-json --dt`), read and scored against a small fixed ground truth.
void coco_results(const uint8_t* data, size_t size);
// An image file: its header probed and the pixels decoded.
void image(const uint8_t* data, size_t size);

// The input as a file of this process (the readers take paths, as the commands do), removed
// when done.
struct InputFile {
  InputFile(const uint8_t* data, size_t size, const char* suffix) {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir && *dir ? dir : "/tmp") + "/focalab-fuzz-" +
           std::to_string(getpid()) + suffix;
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  ~InputFile() { std::remove(path.c_str()); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  std::string path;
};

}  // namespace focalab::harness::fuzz
