#pragma once
// `focalab plot`: figures from the results database (read-only), as SVG or PNG.
//   ap-vs-gamma   AP (mean, 95% interval over seeds) of the focal-loss trials against gamma, one line per
//                 alpha, beside the paper's Table 1(b) curve
//   ap-vs-alpha   AP against alpha for alpha-balanced CE (and focal loss, one line per gamma),
//                 beside the paper's Table 1(a)
//   loss-share    per configuration, the share of the classification loss from positives, hard
//                 negatives and easy negatives over training (stacked)
//   loss-curves   classification and box loss of every trial over training
//   loss-cdf      Figure 4: cumulative normalized loss of positive and negative examples per
//                 gamma, for the trials `analyze loss-cdf` ran on
//   delta-vs-imbalance
//                 each configuration's AP minus that of the --baseline configuration with the
//                 same data, model and schedule (every key outside loss.*), with its 95%
//                 interval over seeds, against the data's binary negatives per positive
//                 (`focalab data stats`, on 512 training images), log x axis

#include <functional>
#include <string>
#include <vector>

#include "harness/config/trial_config.h"

namespace focalab::reports {
inline namespace plots {

struct PlotOptions {
  std::string db_path = "focalab.db";
  std::string sweep;  // empty: the most recently run sweep
  std::string kind;
  std::string out;    // .svg, .png or .pdf
  std::string trial;  // loss-cdf: only this trial (key); its sweep when `sweep` is empty
  std::string baseline;  // delta-vs-imbalance: key=value[,...] selecting the baseline rows
  // delta-vs-imbalance: the binary negatives per positive of a trial's data with its anchors,
  // the x axis (`focalab plot` measures them with harness/analysis/data_stats, which needs the
  // model code: reports/ itself reads only the database). Unset: that kind is refused.
  std::function<double(const harness::TrialConfig&)> negatives_per_positive;
};

const std::vector<std::string>& plot_kinds();

// Writes the figure; returns a one-line description of what it shows. Throws UsageError (kind,
// file extension, a sweep without the trials the kind needs), StoreError (database, sweep).
std::string make_plot(const PlotOptions& options);

// The figure as SVG text (`out` is not used): for the HTML report and `focalab serve`. Throws as
// make_plot does.
std::string plot_svg(const PlotOptions& options);

}  // namespace plots
}  // namespace focalab::reports
