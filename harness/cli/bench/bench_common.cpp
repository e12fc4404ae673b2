#include "harness/cli/bench/bench_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <unistd.h>
#include <vector>

#include "harness/util/errors.h"

namespace focalab::harness::cli {

namespace po = boost::program_options;

ScratchDir::ScratchDir(const std::string& what)
    : path_((std::filesystem::temp_directory_path() / ("focalab-" + what + "-XXXXXX")).string()) {
  if (!mkdtemp(path_.data())) {
    throw DataError(fmt::format("bench {}: cannot create a temporary directory (set TMPDIR to "
                                "a writable one)", what));
  }
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

double median_seconds(int reps, const std::function<void()>& fn) {
  fn();
  fn();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

PairedTimes paired_median_seconds(int reps, const std::function<void()>& a,
                                  const std::function<void()>& b) {
  for (int i = 0; i < 2; ++i) {
    a();
    b();
  }
  const auto time = [](const std::function<void()>& fn) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<double> ta, tb, ratio;
  for (int i = 0; i < reps; ++i) {
    double x, y;
    if (i % 2 == 0) {
      x = time(a);
      y = time(b);
    } else {
      y = time(b);
      x = time(a);
    }
    ta.push_back(x);
    tb.push_back(y);
    ratio.push_back(y / x);
  }
  const auto quantile = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
  };
  return {quantile(ta, .5), quantile(tb, .5), quantile(ratio, .5), quantile(ratio, .25),
          quantile(ratio, .75)};
}

const char* const kKeepFreedMemoryEnv =
    "MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483647 "
    "MALLOC_TOP_PAD_=67108864 ";

// Generated from harness/cli/bench/*.py by CMake (cmake/bench_scripts.cmake).
extern const char* const kBenchScriptTexts[];
extern const char* const kBenchScriptNames[];
extern const int kNumBenchScript;

std::optional<std::string> run_python(const std::string& script_name, const std::string& args,
                                      std::string& why, const std::string& env) {
  const char* script_text = nullptr;
  for (int i = 0; i < kNumBenchScript; ++i) {
    if (script_name == kBenchScriptNames[i]) script_text = kBenchScriptTexts[i];
  }
  if (!script_text) throw std::logic_error("no benchmark script " + script_name);
  std::string tmpl = (std::filesystem::temp_directory_path() / "focalab-bench-XXXXXX.py").string();
  const int fd = mkstemps(tmpl.data(), 3);
  if (fd < 0) {
    why = "cannot create a temporary file";
    return std::nullopt;
  }
  close(fd);
  const std::filesystem::path script = tmpl;
  std::ofstream(script) << script_text;
  const char* python = std::getenv("FOCALAB_PYTHON");
  const std::string interpreter = python && *python ? python : "/usr/bin/python3";
  const std::string cmd = fmt::format("{}{} {} {}", env, interpreter, script.string(), args);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  if (pipe) {
    char buf[512];
    while (fgets(buf, sizeof buf, pipe.get())) out += buf;
  }
  const int rc = pipe ? pclose(pipe.release()) : -1;
  std::filesystem::remove(script);
  std::string last = out;
  while (!last.empty() && std::isspace(static_cast<unsigned char>(last.back()))) last.pop_back();
  last = last.substr(last.find_last_of('\n') + 1);
  if (rc == 0 && !last.empty()) return last;
  why = out.empty() ? fmt::format("{} exited {} without a result (is python3-torchvision "
                                  "installed?)", interpreter, rc)
                    : out.substr(0, out.find('\n'));
  return std::nullopt;
}

}  // namespace focalab::harness::cli
