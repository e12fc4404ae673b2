#pragma once
// Thin RAII wrapper over the SQLite C API: a connection and prepared statements. Every failure
// throws StoreError with the database path and sqlite3_errmsg.

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace focalab::harness {
inline namespace store {

class Statement;

// A file's identity (device, inode).
using FileId = std::pair<uint64_t, uint64_t>;

class Database {
 public:
  // kReadOnly: for reading a database that processes may be writing; SQLite may create the
  // -wal and -shm files it reads through where the folder is writable. kReadOnlySnapshot: for a
  // file that no process writes (a shard to merge, another program's file): nothing is created
  // next to it.
  enum class Mode { kReadWriteCreate, kReadOnly, kReadOnlySnapshot };
  // Looks at an existing file on a read-only connection and throws to refuse it (the results
  // store passes its "is this focalab's, and not of a newer schema" check).
  using Inspector = std::function<void(Database&)>;

  // Opens `path`. Every check runs before anything is written to the file or next to it: the
  // path (check_database_path), the SQLite header, `inspect` on a read-only connection, and for
  // kReadWriteCreate the file system (one host only: network_filesystem) and write permission.
  // Only then does kReadWriteCreate reopen the file for writing and set WAL journaling; a missing
  // file is created as an initialized database under a temporary name and linked into place, so
  // no process ever sees it empty. The read-only modes open `immutable=1` where SQLite could not,
  // or must not, create the -shm file (see read_only_uri).
  Database(const std::string& path, Mode mode, const Inspector& inspect = nullptr);
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
  void open(const std::string& name, int flags);
  void close();
  void create_new_database(const std::string& path);
  sqlite3* db_ = nullptr;
  std::string path_;
  std::optional<FileId> file_;  // the file's descriptor for reading its header (sqlite.cpp)
};

// What the path of a results database may be: an existing non-empty regular file (or a link to
// one), or for kReadWriteCreate a missing file in an existing folder. Throws StoreError (exit 4)
// naming the path, what it is and what is allowed: an empty path, a directory, a FIFO, a socket,
// a character or block device, a 0-byte file, a missing file (read-only modes) or folder.
void check_database_path(const std::string& path, Database::Mode mode);

// The file system `f_type` (statfs) names one that several hosts share, on which SQLite's WAL
// mode (a memory-mapped -shm file and POSIX locks) is not safe: its name ("NFS", "CIFS/SMB",
// ...), or "" for a local one. `fuse_subtype` is the FUSE file system's type from mountinfo
// ("sshfs" for "fuse.sshfs"); FUSE alone says nothing (fuse-overlayfs, ntfs-3g are local).
std::string network_filesystem(int64_t f_type, const std::string& fuse_subtype = "");
// network_filesystem of the file system holding `path` (an existing file or folder).
std::string network_filesystem_of(const std::string& path);

// The URI a read-only connection to `path` opens: `mode=ro`, or `mode=ro&immutable=1` when the
// database is in WAL mode (`wal_header`), has no -wal file (`wal_exists` false: every committed
// page is in the main file, and no writer is connected, since a writer keeps its -wal file) and
// SQLite must not create the -wal and -shm files it wants next to it (`may_create` false: the
// folder or the file is not writable by this process, the file has not been inspected yet, or
// it is one that no process writes: kReadOnlySnapshot).
std::string read_only_uri(const std::string& path, bool wal_header, bool wal_exists,
                          bool may_create);

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

}  // namespace store
}  // namespace focalab::harness
