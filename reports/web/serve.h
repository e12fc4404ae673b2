#pragma once
// `focalab serve`: the results database in a browser, read-only, live while sweeps write to it.
//
// Pages (HTML, every asset inline; nothing is fetched from elsewhere):
//   /                the sweeps: trials done / running / pending / interrupted / failed /
//                    diverged, last activity
//   /sweep/NAME      the comparison table, loss shares and claims exactly as `focalab report`
//                    computes them (the same code), the sweep's plots as SVG (the same code as
//                    `focalab plot`), its running trials with iteration, ms/iter and ETA, and
//                    every trial
//   /trial/KEY       config (resolved, as YAML), status, attempts, host, error; loss curves and
//                    learning rate; where the classification loss came from over training
//                    (positives, hard and easy negatives) and per class; evaluations with the
//                    bootstrap interval; per-class AP; Figure 4 when `analyze loss-cdf` ran
// JSON, polled by the pages (a page of something running updates itself):
//   /api/sweeps, /api/sweep/NAME, /api/trial/KEY[?after=ITERATION&wait=SECONDS]
//   (the trial endpoint answers at once, or with `after` waits up to `wait` seconds, at most
//   ServeOptions::max_wait_seconds, for an iteration past it or a change of status; a trial
//   page asks for at most 10 s, so that a browser's six connections to one host are not all
//   held by the long polls of open trial tabs)
//
// Read-only by construction: every request opens the database read-only (SQLite refuses any
// write), and the server answers GET only. Requests are bounded: parameters are checked (400),
// unknown routes and names are 404, URIs and headers are capped by the HTTP library, a long poll
// by max_wait_seconds.

#include <functional>
#include <string>

namespace focalab::reports {
inline namespace web {

struct ServeOptions {
  std::string db_path = "focalab.db";
  std::string host = "127.0.0.1";
  int port = 8050;            // 0: a free port, chosen by the system
  int max_wait_seconds = 20;  // the longest a long poll of /api/trial waits
  int threads = 32;           // requests served at once (a long poll holds one)
};

// Serves until SIGINT or SIGTERM. `ready` is called once with the URL, when the server listens.
// Throws StoreError when the database cannot be opened or is not a focalab results database,
// UsageError when the address cannot be bound.
void serve(const ServeOptions& options, const std::function<void(const std::string&)>& ready);

}  // namespace web
}  // namespace focalab::reports
