#include "harness/store/sqlite.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace store {

namespace {

namespace fs = std::filesystem;

// The folder a database file lives in ("." for a bare file name).
std::string folder_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

bool exists_no_follow(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Whether this process may write the file and create files next to it (-wal, -shm).
bool writable(const std::string& path) {
  return access(path.c_str(), W_OK) == 0 && access(folder_of(path).c_str(), W_OK) == 0;
}

struct Header {
  bool wal = false;  // file format version bytes 18 and 19 are 2: WAL journaling
};

// POSIX record locks belong to a process and a file, not to a descriptor: closing ANY
// descriptor of a file drops every lock the process holds on it, SQLite's included. A process
// that opened and closed the database file itself while one of its connections was open (to read
// the header for a second connection, as a heartbeat thread or `sweep run --jobs`'s parent does)
// silently lost that connection's SHARED lock; another process closing the database then took
// itself for the last one, checkpointed and deleted the -wal file under the live connection, and
// that connection's later commits went to a deleted file. So the header is read through one
// descriptor per file, kept open while any Database of this process has the file open, and
// closed only after the last one's SQLite connection is closed.
struct OpenFile {
  std::vector<int> fds;  // fds[0] reads; more only if the path's file changed under a stat
  int users = 0;
};
std::mutex g_files_mutex;
std::map<std::pair<uint64_t, uint64_t>, OpenFile> g_files;

FileId acquire_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_files_mutex);
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    const auto it = g_files.find({st.st_dev, st.st_ino});
    if (it != g_files.end()) {
      ++it->second.users;
      return {st.st_dev, st.st_ino};
    }
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    throw StoreError(fmt::format("{}: cannot read the results database: {}", path,
                                 std::strerror(err)));
  }
  // Never closed here: if the file was replaced between stat and open and the new one is
  // already open in this process, closing this descriptor would drop that connection's locks.
  OpenFile& f = g_files[{st.st_dev, st.st_ino}];
  f.fds.push_back(fd);
  ++f.users;
  return {st.st_dev, st.st_ino};
}

void release_file(const FileId& id) {
  std::lock_guard<std::mutex> lock(g_files_mutex);
  const auto it = g_files.find(id);
  if (it == g_files.end() || --it->second.users > 0) return;
  for (int fd : it->second.fds) ::close(fd);
  g_files.erase(it);
}

// The first 100 bytes of an SQLite file are its header; anything else is refused here, before
// SQLite opens it.
Header read_header(const std::string& path, const FileId& id) {
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(g_files_mutex);
    fd = g_files.at(id).fds.front();
  }
  unsigned char buf[100] = {0};
  size_t got = 0;
  while (got < sizeof buf) {
    const ssize_t n = ::pread(fd, buf + got, sizeof buf - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  static const char kMagic[] = "SQLite format 3";  // with its terminating NUL: 16 bytes
  if (got < sizeof buf || std::memcmp(buf, kMagic, sizeof kMagic) != 0) {
    throw StoreError(fmt::format("{}: file is not a database (no SQLite header), so not a focalab "
                                 "results database; pass another --db",
                                 path));
  }
  return Header{buf[18] == 2 && buf[19] == 2};
}

// FUSE's file system type for the device `dev`, from /proc/self/mountinfo ("sshfs" for
// "fuse.sshfs"), or "".
std::string fuse_subtype_of(dev_t dev) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  const std::string want = fmt::format("{}:{}", major(dev), minor(dev));
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno;
    fields >> id >> parent >> devno;
    if (devno != want) continue;
    // The optional fields end with " - ", then the file system type.
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string type;
    rest >> type;
    return type.rfind("fuse.", 0) == 0 ? type.substr(5) : type;
  }
  return "";
}

std::atomic<int> g_new_database_counter{0};

}  // namespace

void check_database_path(const std::string& path, Database::Mode mode) {
  if (path.empty()) {
    throw StoreError(
        "the results database path is empty (allowed: a focalab results database file, or a new "
        "file in an existing folder: --db FILE or $FOCALAB_DB)");
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      throw StoreError(fmt::format("{}: cannot open results database: {}", path,
                                   std::strerror(errno)));
    }
    if (exists_no_follow(path)) {
      throw StoreError(fmt::format("{}: a symbolic link to a missing file (allowed: a focalab "
                                   "results database file, or a new file)",
                                   path));
    }
    if (mode != Database::Mode::kReadWriteCreate) {
      throw StoreError(fmt::format("{}: no such results database (run `focalab sweep run` first "
                                   "or pass --db)",
                                   path));
    }
    const std::string dir = folder_of(path);
    struct stat dst {};
    if (stat(dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode)) {
      throw StoreError(fmt::format("{}: cannot create results database: the folder {} does not "
                                   "exist (allowed: a new file in an existing folder)",
                                   path, dir));
    }
    return;
  }
  const char* kind = nullptr;
  if (S_ISDIR(st.st_mode)) kind = "a directory";
  if (S_ISFIFO(st.st_mode)) kind = "a FIFO (named pipe)";
  if (S_ISCHR(st.st_mode)) kind = "a character device";
  if (S_ISBLK(st.st_mode)) kind = "a block device";
  if (S_ISSOCK(st.st_mode)) kind = "a socket";
  if (kind) {
    throw StoreError(fmt::format("{}: is {}, not a results database (allowed: a regular file, either "
                                 "a focalab results database or a new file)",
                                 path, kind));
  }
  if (st.st_size == 0) {
    // SQLite would take a 0-byte file as an empty database and make it one; it may as well be
    // another program's file that has not been written yet.
    throw StoreError(fmt::format("{}: is an empty file (0 bytes), not a results database (remove "
                                 "it to start a new database there, or pass another --db)",
                                 path));
  }
}

std::string network_filesystem(int64_t f_type, const std::string& fuse_subtype) {
  // statfs magic numbers: linux/magic.h and the file systems' own sources.
  static const std::pair<uint32_t, const char*> kShared[] = {
      {0x6969, "NFS"},           {0x517B, "SMB"},          {0xFF534D42, "CIFS"},
      {0xFE534D42, "SMB2"},      {0x5346414F, "AFS"},      {0x6B414653, "AFS"},
      {0x0BD00BD0, "Lustre"},    {0x47504653, "GPFS"},     {0x00C36400, "CephFS"},
      {0x01021997, "9P"},        {0x19830326, "BeeGFS"},   {0x20030528, "OrangeFS"},
      {0x73757245, "Coda"},      {0x564C, "NCP"},          {0x01161970, "GFS2"},
      {0x7461636F, "OCFS2"},     {0xAAD7AAEA, "PanFS"},
  };
  // FUSE file systems whose files live on other hosts.
  static const char* const kSharedFuse[] = {
      "sshfs",   "glusterfs", "s3fs",     "rclone",        "gcsfuse",   "goofys",
      "ceph-fuse", "juicefs", "mfs",      "lizardfs",      "blobfuse",  "blobfuse2",
      "mountpoint-s3", "davfs", "beegfs", "gvfsd-fuse",
  };
  constexpr uint32_t kFuse = 0x65735546;
  const auto type = static_cast<uint32_t>(f_type);  // the magic is 32 bits; f_type may be signed
  for (const auto& [magic, name] : kShared) {
    if (type == magic) return name;
  }
  if (type == kFuse) {
    for (const char* name : kSharedFuse) {
      if (fuse_subtype == name) return fmt::format("FUSE ({})", name);
    }
  }
  return "";
}

std::string network_filesystem_of(const std::string& path) {
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0) return "";  // unknown: not refused
  std::string subtype;
  struct stat st {};
  if (static_cast<uint32_t>(fs.f_type) == 0x65735546 && stat(path.c_str(), &st) == 0) {
    subtype = fuse_subtype_of(st.st_dev);
  }
  return network_filesystem(static_cast<int64_t>(fs.f_type), subtype);
}

std::string read_only_uri(const std::string& path, bool wal_header, bool wal_exists,
                          bool may_create) {
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  if (ec) abs = path;
  std::string uri = "file://";
  for (const char c : abs.string()) {
    if (c == '%' || c == '?' || c == '#') {
      uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      uri += c;
    }
  }
  // A read-only connection to a WAL database creates the -wal and -shm files when they are
  // missing (and fails where it cannot: "attempt to write a readonly database"); files it
  // creates in someone else's folder would belong to this user and stay behind, and before the
  // file is known to be focalab's nothing may be created next to it. Without a -wal file there is
  // nothing to read but the main file, and no connected writer, so reading it as immutable
  // (no locks, no -shm) is exact. Where a -wal file exists, a writer may be at work, and
  // `mode=ro` reads through its -wal and -shm (SQLite reads a -shm it cannot write since 3.22).
  // A writer that starts while an immutable read is running is not seen; that read is a
  // snapshot of the file as it was.
  const bool immutable = wal_header && !wal_exists && !may_create;
  return uri + (immutable ? "?mode=ro&immutable=1" : "?mode=ro");
}

void Database::open(const std::string& name, int flags) {
  if (sqlite3_open_v2(name.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    close();
    throw StoreError(fmt::format("{}: cannot open results database: {}", path_, msg));
  }
  sqlite3_busy_timeout(db_, 30000);
  sqlite3_extended_result_codes(db_, 1);
}

Database::Database(const std::string& path, Mode mode, const Inspector& inspect) : path_(path) {
  check_database_path(path, mode);
  const bool write = mode == Mode::kReadWriteCreate;
  const char* allow_network = std::getenv("FOCALAB_ALLOW_NETWORK_DB");
  if (write && !(allow_network && std::string(allow_network) == "1")) {
    // SQLite's WAL mode keeps its index in memory shared by the processes of one host: processes
    // on two hosts writing one file over a network file system corrupt it.
    const std::string target = exists_no_follow(path) ? path : folder_of(path);
    const std::string network = network_filesystem_of(target);
    if (!network.empty()) {
      throw StoreError(fmt::format(
          "{}: on a {} file system; a results database is written from one host only: write "
          "shards on each machine's local disk and fold them in with `focalab db merge` (as "
          "`focalab sweep slurm` does), or set FOCALAB_ALLOW_NETWORK_DB=1 if no other host ever "
          "opens this file",
          path, network));
    }
  }
  try {
    std::error_code ec;
    if (write && !fs::exists(path, ec)) create_new_database(path);
    file_ = acquire_file(path);
    // Inspect on a read-only connection that writes nothing, not even next to the file. An
    // immutable read (no -wal file: no writer) is not a snapshot: a writer that opens the file
    // meanwhile may checkpoint into it under the read. When a -wal file appeared during the
    // inspection, or the inspection failed while one now exists, it is read again — through
    // the -wal (mode=ro) once a writer is known to be at work.
    for (int attempt = 0;; ++attempt) {
      const Header header = read_header(path, *file_);
      const bool wal_before = fs::exists(path + "-wal", ec);
      open(read_only_uri(path, header.wal, wal_before || attempt >= 2,
                         mode == Mode::kReadOnly && writable(path)),
           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
      const bool last = attempt >= 3;
      try {
        exec("SELECT count(*) FROM sqlite_master");  // SQLite's own verdict on the file
        if (inspect) inspect(*this);
      } catch (const StoreError&) {
        if (last || wal_before || !fs::exists(path + "-wal", ec)) throw;
        close();
        continue;
      }
      if (!last && !wal_before && fs::exists(path + "-wal", ec)) {
        close();
        continue;
      }
      break;
    }
    if (!write) return;
    close();
    if (access(path.c_str(), W_OK) != 0) {
      throw StoreError(fmt::format("{}: the results database is read-only for this user ({}); "
                                   "commands that write need write access (report, query and "
                                   "plot read it as it is)",
                                   path, std::strerror(errno)));
    }
    if (access(folder_of(path).c_str(), W_OK) != 0) {
      throw StoreError(fmt::format("{}: cannot open results database for writing: its folder {} "
                                   "is not writable ({}), and SQLite keeps its -wal and -shm files "
                                   "there",
                                   path, folder_of(path), std::strerror(errno)));
    }
    open(path, SQLITE_OPEN_READWRITE);
    exec("SELECT count(*) FROM sqlite_master");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
  } catch (...) {
    close();
    if (file_) release_file(*file_);
    throw;
  }
}

void Database::close() {
  sqlite3_close(db_);
  db_ = nullptr;
}

void Database::create_new_database(const std::string& path) {
  const std::string dir = folder_of(path);
  if (access(dir.c_str(), W_OK) != 0) {
    throw StoreError(fmt::format("{}: cannot open results database for writing: cannot create a "
                                 "file in {} ({})",
                                 path, dir, std::strerror(errno)));
  }
  // A new database is made under a temporary name and linked into place only once it has its
  // header: another process opening the path at the same time never sees an empty file (which
  // is refused), and a process killed midway leaves no 0-byte database behind.
  const std::string tmp = fmt::format("{}.tmp-{}-{}", path, getpid(), g_new_database_counter++);
  auto remove_tmp = [&] {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      ::unlink((tmp + suffix).c_str());
    }
  };
  remove_tmp();
  try {
    open(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    exec("PRAGMA journal_mode=WAL");  // writes the header (WAL is a property of the file)
    close();
  } catch (...) {
    close();
    remove_tmp();
    throw;
  }
  if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    // A file system without hard links: rename, unless the path appeared meanwhile.
    std::error_code ec;
    if (!fs::exists(path, ec) && ::rename(tmp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      remove_tmp();
      throw StoreError(fmt::format("{}: cannot create results database: {}", path,
                                   std::strerror(err)));
    }
  }
  // EEXIST: another process created it first; that database is opened.
  remove_tmp();
}

Database::~Database() {
  close();
  if (file_) release_file(*file_);
}

namespace {

// SQLite's message, with the operating system's reason for an I/O error: "disk I/O error" alone
// does not tell a full disk or a file size limit (EFBIG) from a failing device.
std::string with_system_error(sqlite3* db, const std::string& msg) {
  if (!db || (sqlite3_extended_errcode(db) & 0xff) != SQLITE_IOERR) return msg;
  if (sqlite3_system_errno(db) != 0) {
    return fmt::format("{} ({})", msg, std::strerror(sqlite3_system_errno(db)));
  }
  // A short write sets no errno: the file size limit (ulimit -f) or a full disk cut it.
  if (sqlite3_extended_errcode(db) == SQLITE_IOERR_WRITE) {
    return msg + " (a write was cut short: the disk is full or a file size limit was reached)";
  }
  return msg;
}

}  // namespace

void Database::fail(const std::string& what) const {
  throw StoreError(
      fmt::format("{}: {}: {}", path_, what, with_system_error(db_, sqlite3_errmsg(db_))));
}

void Database::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = with_system_error(db_, err ? err : sqlite3_errmsg(db_));
    sqlite3_free(err);
    throw StoreError(fmt::format("{}: {}", path_, msg));
  }
}

Statement Database::prepare(const std::string& sql) { return Statement(*this, sql); }

int64_t Database::changes() const { return sqlite3_changes(db_); }

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

Statement::Statement(Database& db, const std::string& sql) : db_(&db) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
    db.fail("cannot prepare SQL");
  }
  if (!stmt_) throw StoreError(fmt::format("{}: empty SQL statement", db.path()));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement& Statement::bind(int index, int64_t v) {
  if (sqlite3_bind_int64(stmt_, index, v) != SQLITE_OK) db_->fail("bind");
  return *this;
}

Statement& Statement::bind(int index, double v) {
  if (!std::isfinite(v)) return bind_null(index);
  if (sqlite3_bind_double(stmt_, index, v) != SQLITE_OK) db_->fail("bind");
  return *this;
}

Statement& Statement::bind(int index, const std::string& v) {
  if (sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    db_->fail("bind");
  }
  return *this;
}

Statement& Statement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) db_->fail("bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail("SQL step failed");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::columns() const { return sqlite3_column_count(stmt_); }
std::string Statement::column_name(int i) const { return sqlite3_column_name(stmt_, i); }
bool Statement::is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
int64_t Statement::get_int(int i) const { return sqlite3_column_int64(stmt_, i); }
double Statement::get_double(int i) const { return sqlite3_column_double(stmt_, i); }
std::string Statement::get_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
}
int Statement::column_type(int i) const { return sqlite3_column_type(stmt_, i); }
bool Statement::readonly() const { return sqlite3_stmt_readonly(stmt_) != 0; }

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace store
}  // namespace focalab::harness
