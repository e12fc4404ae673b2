// `focalab plot` and `focalab serve`: figures and the browser view of the results database. They
// live beside LibTorch because delta-vs-imbalance measures each data setting's imbalance with the
// config's anchors (harness/analysis/data_stats).

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <string>

#include "harness/analysis/data_stats.h"
#include "harness/cli/cli_common.h"
#include "harness/util/errors.h"
#include "reports/plots/plot.h"
#include "reports/web/serve.h"

namespace focalab::harness::cli {

namespace po = boost::program_options;

int plot_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "sweep", po::value<std::string>()->default_value(""),
      "sweep name (default: the most recently run sweep)")(
      "kind", po::value<std::string>()->required(),
      "ap-vs-gamma | ap-vs-alpha | loss-share | loss-curves | loss-cdf | delta-vs-imbalance")(
      "out", po::value<std::string>()->required(), "FILE.svg, FILE.png or FILE.pdf")(
      "trial", po::value<std::string>()->default_value(""),
      "loss-cdf: only this trial (default: every analyzed trial of the sweep)")(
      "baseline", po::value<std::string>()->default_value(""),
      "delta-vs-imbalance: key=value[,...] selecting the configurations compared against");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm,
             "Usage: focalab plot --kind KIND --out FILE.svg|.png|.pdf [--sweep NAME] [--db FILE]\n\n"
             "Draws a figure from the results database:\n"
             "  ap-vs-gamma  AP (mean, 95% interval over seeds) of the focal-loss trials against gamma,\n"
             "               one line per alpha, beside the paper's Table 1(b) curve\n"
             "  ap-vs-alpha  AP against alpha for alpha-balanced CE (and focal loss per gamma),\n"
             "               beside the paper's Table 1(a)\n"
             "  loss-share   per configuration, the share of the classification loss from\n"
             "               positives, hard and easy negatives over training (stacked)\n"
             "  loss-curves  classification and box loss of every trial over training\n"
             "  loss-cdf     Figure 4: cumulative normalized loss of positive and negative\n"
             "               examples per gamma, for trials `focalab analyze loss-cdf` ran on\n"
             "  delta-vs-imbalance\n"
             "               each configuration's AP minus that of the --baseline configuration\n"
             "               with the same data, model and schedule (every key outside loss.*),\n"
             "               with its 95% interval over seeds (paired t, else Welch), against the\n"
             "               data's binary negatives per positive (`focalab data stats` on 512\n"
             "               training images), log x axis\n"
             "Drawn with cairo; text in DejaVu Sans (Debian's fonts-dejavu-core; FOCALAB_FONT=FAMILY\n"
             "sets another font family). PDF is vector output for papers and LaTeX.\n\n"
             "Examples:\n  focalab plot --sweep quick --kind loss-share --out share.png\n"
             "  focalab plot --sweep table1b --kind ap-vs-gamma --out gamma.pdf\n"
             "  focalab plot --sweep regime_imbalance --kind delta-vs-imbalance \\\n"
             "      --baseline loss.kind=alpha_ce --out imbalance.svg\n")) {
    return kExitOk;
  }
  reports::PlotOptions options;
  options.db_path = vm["db"].as<std::string>();
  options.sweep = vm["sweep"].as<std::string>();
  options.kind = vm["kind"].as<std::string>();
  options.out = vm["out"].as<std::string>();
  options.trial = vm["trial"].as<std::string>();
  options.baseline = vm["baseline"].as<std::string>();
  options.negatives_per_positive = [](const TrialConfig& config) {
    return compute_data_stats(config, 512).negatives_per_positive();
  };
  fmt::print(stderr, "{}\n", reports::make_plot(options));
  return kExitOk;
}

int serve_command(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "port", po::value<int>()->default_value(8050), "TCP port (0: a free one, printed)")(
      "host", po::value<std::string>()->default_value("127.0.0.1"),
      "address to listen on (default: this machine only; 0.0.0.0: every interface)")(
      "max-wait", po::value<int>()->default_value(20),
      "seconds a page's long poll for a running trial may wait, 1..300");
  opts.add(db_option());
  po::variables_map vm;
  if (!parse(args, opts, {}, {}, vm,
             "Usage: focalab serve [--db FILE] [--port 8050] [--host 127.0.0.1]\n\n"
             "The results database in a browser, read-only, live while sweeps write to it:\n"
             "  /              every sweep: trials done, running, pending, failed, diverged\n"
             "  /sweep/NAME    the comparison table, loss shares and claims as `focalab report`\n"
             "                 prints them, the sweep's plots, running trials with ETA\n"
             "  /trial/KEY     config, status, loss curves, where the classification loss came\n"
             "                 from (over training and per class), evaluations, per-class AP\n"
             "Pages of running sweeps and trials update themselves (JSON under /api/). The\n"
             "database is opened read-only for every request; nothing is written. Every asset\n"
             "is in the binary. Ctrl-C (or SIGTERM) stops the server (exit 0).\n\n"
             "Examples:\n  focalab serve --db runs.db            # then open http://127.0.0.1:8050/\n"
             "  focalab sweep run experiments/quick.yaml --db runs.db & focalab serve --db runs.db\n"
             "  ssh -L 8050:127.0.0.1:8050 cluster   # a database on another machine, served there\n\n"
             "Exit codes: 0 stopped, 2 usage error (port in use), 4 database error.\n")) {
    return kExitOk;
  }
  reports::ServeOptions so;
  so.db_path = vm["db"].as<std::string>();
  so.host = vm["host"].as<std::string>();
  so.port = vm["port"].as<int>();
  so.max_wait_seconds = vm["max-wait"].as<int>();
  if (so.port < 0 || so.port > 65535) {
    throw UsageError(fmt::format("--port {}: allowed 0..65535 (0: a free port)", so.port));
  }
  if (so.max_wait_seconds < 1 || so.max_wait_seconds > 300) {
    throw UsageError(fmt::format("--max-wait {}: allowed 1..300 seconds", so.max_wait_seconds));
  }
  reports::serve(so, [&](const std::string& url) {
    fmt::print(stderr, "focalab serve: {} -> {} (read-only; Ctrl-C stops)\n", so.db_path, url);
    if (so.host != "127.0.0.1" && so.host != "localhost" && so.host != "::1") {
      fmt::print(stderr, "focalab serve: listening on {}: anyone who can reach this machine "
                         "can read the results\n", so.host);
    }
    std::fflush(stderr);
  });
  return kExitOk;
}

}  // namespace focalab::harness::cli
