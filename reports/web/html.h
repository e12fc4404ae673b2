#pragma once
// The HTML page shell shared by `focalab report --format html` (one self-contained file) and the
// pages of `focalab serve`: one stylesheet, no external asset.

#include <string>

namespace focalab::reports {
inline namespace web {

// A complete HTML document: `title`, the shared stylesheet, `body`, and `script` (JavaScript,
// inline) when given.
std::string html_page(const std::string& title, const std::string& body,
                      const std::string& script = "");

}  // namespace web
}  // namespace focalab::reports
