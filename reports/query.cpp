#include "reports/query.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cctype>
#include <filesystem>
#include <vector>

#include "harness/store/sqlite.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"
#include "reports/csv.h"

namespace focalab::reports {

using harness::Database;

QueryFormat parse_query_format(const std::string& name) {
  if (name == "table") return QueryFormat::kTable;
  if (name == "csv") return QueryFormat::kCsv;
  if (name == "json") return QueryFormat::kJson;
  throw harness::UsageError(fmt::format("--format '{}': allowed: table, csv, json", name));
}

namespace {

// Set by SIGINT / SIGTERM while a query runs; the progress handler then interrupts SQLite.
volatile std::sig_atomic_t g_query_signal = 0;
extern "C" void on_query_signal(int sig) { g_query_signal = sig; }

// Installs the query's signal handlers for its lifetime and restores the previous ones.
class QuerySignals {
 public:
  QuerySignals() {
    g_query_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_query_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~QuerySignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  QuerySignals(const QuerySignals&) = delete;
  QuerySignals& operator=(const QuerySignals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

struct Deadline {
  std::chrono::steady_clock::time_point at;
  bool expired = false;
};

// SQLite's progress handler: a non-zero return interrupts the statement (SQLITE_INTERRUPT).
extern "C" int query_progress(void* arg) {
  auto* d = static_cast<Deadline*>(arg);
  if (g_query_signal != 0) return 1;
  if (std::chrono::steady_clock::now() >= d->at) {
    d->expired = true;
    return 1;
  }
  return 0;
}

bool is_identifier(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_';
  });
}

}  // namespace

std::string run_query(const std::string& db_path, const std::string& sql, QueryFormat format,
                      const QueryLimits& limits) {
  if (!(limits.timeout_s > 0)) {
    throw harness::UsageError(fmt::format("--timeout {}: must be > 0 seconds", limits.timeout_s));
  }
  if (limits.max_rows < 1) {
    throw harness::UsageError(fmt::format("--max-rows {}: must be >= 1", limits.max_rows));
  }
  if (db_path.empty()) harness::check_database_path(db_path, Database::Mode::kReadOnly);
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    throw harness::StoreError(
        fmt::format("{}: no such results database (run a sweep first or pass --db)", db_path));
  }
  Database db(db_path, Database::Mode::kReadOnly);
  const std::string text = is_identifier(sql) ? fmt::format("SELECT * FROM \"{}\"", sql) : sql;
  auto st = db.prepare(text);
  if (!st.readonly()) {
    throw harness::UsageError(
        fmt::format("{}: query refused: focalab query is read-only (got '{}')", db_path, sql));
  }
  const int nc = st.columns();
  std::vector<std::string> names;
  for (int i = 0; i < nc; ++i) names.push_back(st.column_name(i));
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<int>> types;
  // A recursive CTE without a bound never ends: every query runs against a deadline, and Ctrl-C
  // interrupts it (SQLite checks the handler every 10,000 virtual-machine instructions).
  const QuerySignals signals;
  Deadline deadline{std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(std::min(limits.timeout_s, 1e9)))};
  sqlite3_progress_handler(db.handle(), 10000, query_progress, &deadline);
  // Memory: no single value over 64 MiB (SQLite's default allows 1 GB strings and blobs), and the
  // result held for formatting at most kMaxResultBytes.
  sqlite3_limit(db.handle(), SQLITE_LIMIT_LENGTH, 64 << 20);
  constexpr size_t kMaxResultBytes = size_t{1} << 30;
  size_t result_bytes = 0;
  auto step = [&] {
    try {
      return st.step();
    } catch (const harness::StoreError&) {
      if (g_query_signal != 0) {
        throw harness::InterruptedError(fmt::format("{}: query interrupted (signal {})", db_path,
                                           static_cast<int>(g_query_signal)));
      }
      if (deadline.expired) {
        throw harness::UsageError(
            fmt::format("{}: query stopped after {} s (--timeout; add a bound or "
                        "a LIMIT, or raise --timeout)",
                        db_path, limits.timeout_s));
      }
      throw;
    }
  };
  while (step()) {
    if (static_cast<int64_t>(rows.size()) >= limits.max_rows) {
      throw harness::UsageError(
          fmt::format("{}: query returns more than {} rows (--max-rows; add a LIMIT "
                      "or raise --max-rows)",
                      db_path, limits.max_rows));
    }
    std::vector<std::string> row;
    std::vector<int> t;
    for (int i = 0; i < nc; ++i) {
      t.push_back(st.column_type(i));
      row.push_back(st.is_null(i) ? "" : st.get_text(i));
      result_bytes += row.back().size() + 8;
    }
    if (result_bytes > kMaxResultBytes) {
      throw harness::UsageError(
          fmt::format("{}: query result exceeds {} MiB (add a LIMIT or select fewer "
                      "columns)",
                      db_path, kMaxResultBytes >> 20));
    }
    rows.push_back(std::move(row));
    types.push_back(std::move(t));
  }
  if (g_query_signal != 0) {  // arrived after the last row: the user still asked to stop
    throw harness::InterruptedError(fmt::format("{}: query interrupted (signal {})", db_path,
                                       static_cast<int>(g_query_signal)));
  }
  std::string out;
  switch (format) {
    case QueryFormat::kCsv: {
      for (int i = 0; i < nc; ++i) out += (i ? "," : "") + csv_cell(names[static_cast<size_t>(i)]);
      out += "\n";
      for (const auto& r : rows) {
        for (int i = 0; i < nc; ++i) out += (i ? "," : "") + csv_cell(r[static_cast<size_t>(i)]);
        out += "\n";
      }
      break;
    }
    case QueryFormat::kJson: {
      harness::JsonWriter w([&out](std::string_view piece) { out += piece; });
      w.begin_array(true);  // one row a line
      for (size_t r = 0; r < rows.size(); ++r) {
        harness::Json row = harness::Json::object();
        for (size_t ci = 0; ci < static_cast<size_t>(nc); ++ci) {
          const std::string& text = rows[r][ci];
          harness::Json& v = row[names[ci]];
          switch (types[r][ci]) {
            case SQLITE_NULL: v = nullptr; break;
            case SQLITE_INTEGER: v = std::stoll(text); break;
            case SQLITE_FLOAT: v = harness::json_number(std::strtod(text.c_str(), nullptr)); break;
            default: v = text;
          }
        }
        w.value(row);
      }
      w.end_array();
      w.newline();
      break;
    }
    case QueryFormat::kTable: {
      std::vector<size_t> width(static_cast<size_t>(nc));
      for (int i = 0; i < nc; ++i) width[static_cast<size_t>(i)] = names[static_cast<size_t>(i)].size();
      for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
      auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (size_t i = 0; i < cells.size(); ++i) {
          s += fmt::format("{}{:<{}}", i ? "  " : "", cells[i], width[i]);
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        return s + "\n";
      };
      out += line(names);
      std::vector<std::string> rule;
      for (size_t w : width) rule.push_back(std::string(w, '-'));
      out += line(rule);
      for (const auto& r : rows) out += line(r);
      out += fmt::format("({} row{})\n", rows.size(), rows.size() == 1 ? "" : "s");
      break;
    }
  }
  return out;
}

void check_trial_key(const std::string& key) {
  if (key.size() != 16 || !std::all_of(key.begin(), key.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
      })) {
    throw harness::UsageError(
        fmt::format("--trial '{}': a trial key is 16 hex digits (focalab query "
                    "trials lists them)",
                    key));
  }
}

std::string named_query(const std::string& name, const std::string& trial_key) {
  if (name == "trials") {
    return "SELECT key, seed, status, attempts, host, device, started_at, finished_at, "
           "diverged_at_iter, error FROM trials ORDER BY id";
  }
  if (name != "steps" && name != "breakdown") return "";
  if (trial_key.empty()) {
    throw harness::UsageError(
        fmt::format("query {}: needs --trial KEY (the keys: focalab query trials)", name));
  }
  check_trial_key(trial_key);
  const std::string trial = fmt::format("(SELECT id FROM trials WHERE key = '{}')", trial_key);
  if (name == "steps") {
    return fmt::format("SELECT iteration, lr, loss_cls, loss_box, loss_total, num_pos, "
                       "normalizer, ms_per_iter, data_ms FROM train_steps WHERE trial_id = {} "
                       "ORDER BY iteration", trial);
  }
  return fmt::format("SELECT iteration, category, count, loss_sum, "
                     "round(loss_sum / sum(loss_sum) OVER (PARTITION BY iteration), 4) AS share "
                     "FROM loss_breakdown WHERE trial_id = {} AND class_id = -1 "
                     "ORDER BY iteration, category", trial);
}

}  // namespace focalab::reports
