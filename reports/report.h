#pragma once
// Comparison tables read from the results database (read-only), shaped like the focal-loss
// paper's: Markdown, CSV, LaTeX (booktabs), JSON or HTML.

#include <cstdint>
#include <string>

namespace focalab::reports {

struct ReportOptions {
  std::string db_path = "focalab.db";
  std::string sweep;          // sweep name; empty = the most recently run sweep
  std::string format = "md";  // md | csv | latex | json | html
  bool all_metrics = false;   // APs, APm, APl too
  // key=value[,key=value...] selecting one configuration of the sweep: every other row gets its
  // AP difference to it with a 95% confidence interval (paired t over the seeds both ran the
  // same; otherwise Welch's t). Empty: no comparison.
  std::string baseline;
  // html: the sweep's figures (every `focalab plot` kind it has the trials for) as inline SVG,
  // so that the page is one self-contained file.
  bool plots = true;
  // html: the page's content only, for a page of `focalab serve` to wrap.
  bool fragment = false;
  // latex: a folder for the sweep's figures as PDF (SWEEP-KIND.pdf, every `focalab plot` kind it
  // has the trials for), each included after the table in a figure environment. Empty: none.
  std::string figures_dir;
};

// One row per distinct configuration of the sweep (its varied config values), AP / AP50 / AP75 as
// mean ± std over the seeds' done trials with n, the status of each (diverged and failed trials
// shown, not dropped), the paper's numbers and ΔAP when the sweep names a reference and the row
// matches one, the best row marked; then the share of the classification loss from positives,
// hard and easy negatives early, mid and late in training. Throws StoreError (no such DB /
// sweep) with the names that exist, UsageError for an unknown format or a baseline that does not
// select exactly one configuration.
// The sweep's claims (harness/config/claims.h) end the report with a verdict each; `failed_claims`,
// when given, is set to the number that fail.
std::string render_report(const ReportOptions& options, int64_t* failed_claims = nullptr);

}  // namespace focalab::reports
