#pragma once
// Comparison tables read from the results database (read-only): one row per trial of a sweep, the
// config values that vary across the sweep as columns, then status and COCO AP / AP50 / AP75
// (x100, as the paper prints them), followed by where the classification loss came from.

#include <string>

namespace focalab::reports {

struct ReportOptions {
  std::string db_path = "focalab.db";
  std::string sweep;  // sweep name; empty = the most recently run sweep
};

// Markdown. Throws StoreError (no such DB / sweep) with the names that exist.
std::string render_report(const ReportOptions& options);

}  // namespace focalab::reports
