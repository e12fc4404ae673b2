#pragma once
// Read-only SQL on the results database for `focalab query`. The connection is opened read-only
// and statements that would write are refused, so a query can never change results.

#include <string>

namespace focalab::reports {

enum class QueryFormat { kTable, kCsv, kJson };
QueryFormat parse_query_format(const std::string& name);  // table | csv | json (UsageError)

// `sql` may also be the bare name of a table or view ("results", "trials"): SELECT * FROM it.
std::string run_query(const std::string& db_path, const std::string& sql, QueryFormat format);

}  // namespace focalab::reports
