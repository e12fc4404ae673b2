#pragma once
// The exception types of focalab. Library code throws them with full context (file, key, value,
// what is allowed); only `main` turns them into one-line messages and exit codes:
//   0 success · 1 some trial failed or diverged · 2 usage or config error · 3 missing or bad data
//   4 results-database error · 5 interrupted (SIGINT/SIGTERM) · 70 internal error.

#include <stdexcept>
#include <string>

namespace focalab::harness {
inline namespace util {

enum ExitCode : int {
  kExitOk = 0,
  kExitTrialsFailed = 1,
  kExitUsage = 2,
  kExitData = 3,
  kExitStore = 4,
  kExitInterrupted = 5,
  kExitInternal = 70,
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  virtual int exit_code() const { return kExitInternal; }
};

// Bad command line.
class UsageError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitUsage; }
};

// Bad sweep YAML or override: the message names file, line, key, value and what is allowed.
class ConfigError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitUsage; }
};

// Missing or malformed data files.
class DataError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitData; }
};

// SQLite failures, with sqlite3_errmsg and the database path.
class StoreError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitStore; }
};

// The run was asked to stop (SIGINT/SIGTERM); the state was saved.
class InterruptedError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitInterrupted; }
};

}  // namespace util
}  // namespace focalab::harness
