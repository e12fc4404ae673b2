#pragma once
// Minimal JSON output helpers (focalab writes JSON; it does not need to parse it here).

#include <fmt/format.h>

#include <cmath>
#include <string>

namespace focalab::harness {
inline namespace util {

inline std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Shortest round-trip representation; JSON has no NaN/inf, so those become null.
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{}", v);
}

}  // namespace util
}  // namespace focalab::harness
