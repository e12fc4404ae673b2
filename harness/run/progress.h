#pragma once
// Progress lines on stderr: on a terminal one line rewritten in place (at most every 0.25 s);
// otherwise a plain line per call to `line()`, so logs stay readable. NO_COLOR is respected.

#include <chrono>
#include <string>

namespace focalab::harness {
inline namespace run {

class Progress {
 public:
  Progress();
  bool interactive() const { return tty_; }
  // Transient status (terminal only, throttled).
  void status(const std::string& text);
  // A permanent line (clears a pending status line first).
  void line(const std::string& text);
  // Bold/colored text when allowed.
  std::string emphasis(const std::string& text) const;

 private:
  bool tty_;
  bool color_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_;
};

// "1h02m", "3m05s", "42s".
std::string format_duration(double seconds);

}  // namespace run
}  // namespace focalab::harness
