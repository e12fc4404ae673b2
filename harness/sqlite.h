#pragma once
// Thin RAII wrapper over the SQLite C API: a connection and prepared statements. Every failure
// throws StoreError with the database path and sqlite3_errmsg.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace focalab::harness {

class Statement;

class Database {
 public:
  enum class Mode { kReadWriteCreate, kReadOnly };
  // Opens `path`. kReadWriteCreate sets WAL journaling and a busy timeout.
  Database(const std::string& path, Mode mode);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  int64_t last_insert_rowid() const;
  int64_t changes() const;  // rows changed by the last statement
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  // Non-finite doubles are bound as NULL (the caller records a flag where it matters).
  Statement& bind(int index, double v);
  Statement& bind(int index, const std::string& v);
  Statement& bind(int index, const char* v) { return bind(index, std::string(v)); }
  Statement& bind_null(int index);
  template <class T>
  Statement& bind(int index, const std::optional<T>& v) {
    return v ? bind(index, *v) : bind_null(index);
  }

  // Steps once; true while a row is available.
  bool step();
  // Runs to completion (for INSERT/UPDATE) and resets for reuse.
  void run();
  void reset();

  int columns() const;
  std::string column_name(int i) const;
  bool is_null(int i) const;
  int64_t get_int(int i) const;
  double get_double(int i) const;
  std::string get_text(int i) const;
  int column_type(int i) const;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
  bool readonly() const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// RAII `BEGIN IMMEDIATE` ... `COMMIT` (rolled back if not committed).
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace focalab::harness
