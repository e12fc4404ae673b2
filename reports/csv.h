#pragma once
// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled.

#include <string>

namespace focalab::reports {

inline std::string csv_cell(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace focalab::reports
