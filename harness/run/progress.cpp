#include "harness/run/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace focalab::harness {
inline namespace run {

// A worker process of `sweep run --jobs N` (FOCALAB_JOB set) writes plain lines, prefixed with
// its job number, since N processes share the terminal.
Progress::Progress()
    : tty_(isatty(STDERR_FILENO) != 0 && std::getenv("FOCALAB_JOB") == nullptr),
      color_(tty_ && std::getenv("NO_COLOR") == nullptr),
      last_(std::chrono::steady_clock::now() - std::chrono::seconds(1)) {}

void Progress::status(const std::string& text) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  fmt::print(stderr, "\r\033[K{}", text);
  std::fflush(stderr);
  dirty_ = true;
}

void Progress::line(const std::string& text) {
  if (dirty_) fmt::print(stderr, "\r\033[K");
  dirty_ = false;
  static const char* job = std::getenv("FOCALAB_JOB");
  if (job) {
    fmt::print(stderr, "job {}: {}\n", job, text);
  } else {
    fmt::print(stderr, "{}\n", text);
  }
  std::fflush(stderr);
}

std::string Progress::emphasis(const std::string& text) const {
  return color_ ? fmt::format("\033[1m{}\033[0m", text) : text;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace run
}  // namespace focalab::harness
