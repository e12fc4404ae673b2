#pragma once
// Read-only SQL on the results database for `focalab query`. The connection is opened read-only
// and statements that would write are refused, so a query can never change results.

#include <cstdint>
#include <string>

namespace focalab::reports {

enum class QueryFormat { kTable, kCsv, kJson };
// table | csv | json (anything else: harness::UsageError)
QueryFormat parse_query_format(const std::string& name);

// What one query may take: wall time (interrupted after it, and on SIGINT) and result rows.
// The rows bound also bounds memory: rows are held until they are formatted.
struct QueryLimits {
  double timeout_s = 60;
  int64_t max_rows = 1000000;
};

// `sql` may also be the bare name of a table or view ("results", "trials"): SELECT * FROM it.
// Throws UsageError for a statement that would write, past `limits.max_rows` rows or
// `limits.timeout_s` seconds, and InterruptedError on Ctrl-C (SIGINT) or SIGTERM.
std::string run_query(const std::string& db_path, const std::string& sql, QueryFormat format,
                      const QueryLimits& limits = {});

// Throws UsageError unless `key` is a trial key (16 lowercase hex digits) — the --trial flags.
void check_trial_key(const std::string& key);

// The canned queries of `focalab query NAME [--trial KEY]`, as SQL, or "" when `name` is not one:
//   trials              every trial: key, seed, status, attempts, where, when, error
//   steps --trial K     the step log of trial K (loss, lr, positives, ms/iter, data wait)
//   breakdown --trial K the loss breakdown of trial K per interval, all classes, with each
//                       category's share of the interval's classification loss
// Throws UsageError when a query that needs --trial lacks it or the key is not 16 hex digits.
std::string named_query(const std::string& name, const std::string& trial_key);

}  // namespace focalab::reports
