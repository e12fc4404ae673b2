// The results database's guards and migrations (harness/sqlite, harness/store): every path that
// is not a database is refused before anything is written; another program's file is left
// byte for byte as it was, with nothing created next to it; a new database never appears empty;
// the network file system verdict over statfs magic numbers; and every earlier schema version
// (tests/data/schema/v1.db ... v6.db, made by make.sh there) migrates to the current one with
// its rows intact and today's `results` view.

#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness/store/sqlite.h"
#include "harness/store/store.h"
#include "harness/util/errors.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Another program's database, written with the sqlite3 C API (no focalab code).
void make_foreign_db(const std::string& path, bool wal) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string sql = std::string(wal ? "PRAGMA journal_mode=WAL;" : "") +
                          "CREATE TABLE customers (id INTEGER, name TEXT);"
                          "INSERT INTO customers VALUES (1, 'x'), (2, 'y');";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  ASSERT_FALSE(fs::exists(path + "-wal"));
}

// The message of the StoreError `f` throws ("" when it throws nothing).
template <class F>
std::string store_error(F&& f) {
  try {
    f();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.exit_code(), kExitStore);
    return e.what();
  }
  return "";
}

std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

TEST(DatabaseGuard, AnotherProgramsDatabaseIsLeftAsItWas) {
  TempDir dir;
  for (const bool wal : {false, true}) {
    const std::string path = dir.file(wal ? "app_wal.db" : "app.db");
    make_foreign_db(path, wal);
    const std::string before = read_bytes(path);
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::string why = attempt == 0   ? store_error([&] { Store store(path); })
                              : attempt == 1 ? store_error([&] {
                                  Store into(dir.file("into.db"));
                                  into.merge_from(path);
                                })
                                             : store_error([&] {
                                  Database db(path, Database::Mode::kReadOnly);
                                  results_schema_version(db);
                                });
      EXPECT_NE(why.find(path + ": not a focalab results database"), std::string::npos) << why;
      EXPECT_TRUE(read_bytes(path) == before) << path << " changed (attempt " << attempt << ")";
      // A read-only connection to a WAL database in a writable folder makes the (empty) -wal
      // and -shm files every SQLite reader makes, the sqlite3 shell too; the writers' checks
      // run on a connection that makes none.
      if (wal && attempt == 2) continue;
      EXPECT_FALSE(fs::exists(path + "-wal")) << path;
      EXPECT_FALSE(fs::exists(path + "-shm")) << path;
      EXPECT_FALSE(fs::exists(path + "-journal")) << path;
    }
  }
}

TEST(DatabaseGuard, EmptyFileIsRefusedAndStaysEmpty) {
  TempDir dir;
  const std::string path = dir.write("empty.db", "");
  for (const auto mode : {Database::Mode::kReadWriteCreate, Database::Mode::kReadOnly}) {
    const std::string why = store_error([&] { Database db(path, mode); });
    EXPECT_NE(why.find(path + ": is an empty file (0 bytes)"), std::string::npos) << why;
  }
  EXPECT_NE(store_error([&] { Store store(path); }).find("0 bytes"), std::string::npos);
  EXPECT_EQ(fs::file_size(path), 0u);
  EXPECT_EQ(files_in(dir.file("")), (std::set<std::string>{"empty.db"}));
}

TEST(DatabaseGuard, PathsThatAreNotDatabaseFilesAreRefused) {
  TempDir dir;
  fs::create_directory(dir.file("adir.db"));
  ASSERT_EQ(mkfifo(dir.file("fifo.db").c_str(), 0644), 0);
  const std::string text = dir.write("text.db", "not a database, just text, long enough to be read");
  const std::map<std::string, std::string> cases = {
      {"", "the results database path is empty"},
      {dir.file("adir.db"), dir.file("adir.db") + ": is a directory"},
      {dir.file("fifo.db"), dir.file("fifo.db") + ": is a FIFO (named pipe)"},
      {"/dev/null", "/dev/null: is a character device"},
      {dir.file("no/such/folder/x.db"), "the folder " + dir.file("no/such/folder") +
                                            " does not exist"},
      {text, text + ": file is not a database"},
  };
  for (const auto& [path, expected] : cases) {
    for (const auto mode : {Database::Mode::kReadWriteCreate, Database::Mode::kReadOnly}) {
      if (mode == Database::Mode::kReadOnly && path.find("no/such") != std::string::npos) continue;
      const std::string why = store_error([&] { Database db(path, mode); });
      EXPECT_NE(why.find(expected), std::string::npos) << "'" << path << "': " << why;
      EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    }
  }
  EXPECT_EQ(read_bytes(text), "not a database, just text, long enough to be read");
  EXPECT_TRUE(fs::is_empty(dir.file("adir.db")));
  EXPECT_FALSE(fs::exists(dir.file("no")));
  const std::string missing = dir.file("missing.db");
  EXPECT_NE(store_error([&] { Database db(missing, Database::Mode::kReadOnly); })
                .find(missing + ": no such results database"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(missing));
  // db merge: an empty --into, and a shard that is a FIFO.
  EXPECT_NE(store_error([&] { Store store(""); }).find("path is empty"), std::string::npos);
  Store into(dir.file("into.db"));
  EXPECT_NE(store_error([&] { into.merge_from(dir.file("fifo.db")); }).find("is a FIFO"),
            std::string::npos);
  EXPECT_NE(store_error([&] { into.merge_from(dir.file("gone.db")); })
                .find("no such results database"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir.file("gone.db")));
}

TEST(DatabaseGuard, NewDatabaseIsCreatedWithoutLeftovers) {
  TempDir dir;
  const std::string path = dir.file("new.db");
  {
    Store store(path);
    EXPECT_EQ(results_schema_version(store.db()), kSchemaVersion);
  }
  EXPECT_GT(fs::file_size(path), 0u);
  EXPECT_EQ(files_in(dir.file("")), (std::set<std::string>{"new.db"}));
  // Reopened for reading and for writing.
  Database ro(path, Database::Mode::kReadOnly);
  EXPECT_EQ(results_schema_version(ro), kSchemaVersion);
  Store again(path);
  EXPECT_EQ(results_schema_version(again.db()), kSchemaVersion);
}

// Processes (here: connections of threads) that open one new path at once all get the one
// database; none sees it empty.
TEST(DatabaseGuard, ConcurrentCreationOfOneDatabase) {
  for (int round = 0; round < 5; ++round) {
    TempDir dir;
    const std::string path = dir.file("race.db");
    std::vector<std::string> errors(8);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < errors.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          Store store(path);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& e : errors) EXPECT_EQ(e, "") << "round " << round;
    EXPECT_EQ(files_in(dir.file("")), (std::set<std::string>{"race.db"}));
  }
}

// Whether another process finds this process's SQLite SHARED lock on the database file (a
// connection in WAL mode holds one while it is open; a process that finds none may take itself
// for the last connection, checkpoint and delete the -wal file under the live one). Asked from a
// forked child, which makes only system calls: F_GETLK reports other processes' locks only.
bool shared_lock_seen_by_another_process(const std::string& path) {
  const char* name = path.c_str();
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(name, O_RDWR);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0x40000000 + 2;  // SQLite's SHARED byte range: PENDING_BYTE + 2, 510 bytes
    fl.l_len = 510;
    if (fd < 0 || fcntl(fd, F_GETLK, &fl) != 0) _exit(2);
    _exit(fl.l_type == F_UNLCK ? 1 : 0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
    ADD_FAILURE() << "the lock-checking child did not run";
    return false;
  }
  EXPECT_NE(WEXITSTATUS(status), 2) << "the child could not query " << path;
  return WEXITSTATUS(status) == 0;
}

// Opening the database again in the same process (the trial heartbeat's connection, the
// `--jobs` parent between workers) and closing it leaves the first connection's locks in place:
// POSIX locks belong to the process and the file, and closing any descriptor of the file drops
// them all. Once dropped, another worker's exit deleted the -wal file under a running worker,
// whose commits (a trial marked done) were then lost.
TEST(DatabaseGuard, OpeningTheFileAgainKeepsTheLocksOfOpenConnections) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  Store first(path);
  ASSERT_TRUE(shared_lock_seen_by_another_process(path));
  { Store second(path); }
  EXPECT_TRUE(shared_lock_seen_by_another_process(path)) << "after a second Store";
  { Database reader(path, Database::Mode::kReadOnly); }
  EXPECT_TRUE(shared_lock_seen_by_another_process(path)) << "after a read-only Database";
  std::thread([&] { Store heartbeat(path); }).join();
  EXPECT_TRUE(shared_lock_seen_by_another_process(path)) << "after another thread's Store";
}

TEST(DatabaseGuard, NetworkFileSystemsByMagicNumber) {
  EXPECT_EQ(network_filesystem(0x6969), "NFS");
  EXPECT_EQ(network_filesystem(0xFF534D42), "CIFS");
  // statfs's f_type is signed on some ABIs: the CIFS magic arrives negative.
  EXPECT_EQ(network_filesystem(static_cast<int32_t>(0xFF534D42u)), "CIFS");
  EXPECT_EQ(network_filesystem(0xFE534D42), "SMB2");
  EXPECT_EQ(network_filesystem(0x517B), "SMB");
  EXPECT_EQ(network_filesystem(0x5346414F), "AFS");
  EXPECT_EQ(network_filesystem(0x0BD00BD0), "Lustre");
  EXPECT_EQ(network_filesystem(0x47504653), "GPFS");
  EXPECT_EQ(network_filesystem(0x00C36400), "CephFS");
  EXPECT_EQ(network_filesystem(0x01021997), "9P");
  EXPECT_EQ(network_filesystem(0x19830326), "BeeGFS");
  // Local ones: ext4, xfs, btrfs, tmpfs (one off 9P's magic), overlayfs, zfs.
  for (const int64_t local : std::vector<int64_t>{0xEF53, 0x58465342, 0x9123683E, 0x01021994,
                                                  0x794C7630, 0x2FC12FC1}) {
    EXPECT_EQ(network_filesystem(local), "") << std::hex << local;
  }
  // FUSE: by the file system behind it.
  EXPECT_EQ(network_filesystem(0x65735546, "sshfs"), "FUSE (sshfs)");
  EXPECT_EQ(network_filesystem(0x65735546, "glusterfs"), "FUSE (glusterfs)");
  EXPECT_EQ(network_filesystem(0x65735546, "fuse-overlayfs"), "");
  EXPECT_EQ(network_filesystem(0x65735546, "fuseblk"), "");
  EXPECT_EQ(network_filesystem(0x65735546, ""), "");
  // The test's own temporary folder is local.
  TempDir dir;
  EXPECT_EQ(network_filesystem_of(dir.file("")), "");
}

TEST(DatabaseGuard, ReadOnlyUri) {
  const std::string odd = "/data/a%b?c#d.db";
  EXPECT_EQ(read_only_uri(odd, true, false, true), "file:///data/a%25b%3Fc%23d.db?mode=ro");
  // Immutable only for a WAL database without a -wal file that may not get -wal/-shm files.
  EXPECT_EQ(read_only_uri("/d/x.db", true, false, false), "file:///d/x.db?mode=ro&immutable=1");
  EXPECT_EQ(read_only_uri("/d/x.db", true, true, false), "file:///d/x.db?mode=ro");
  EXPECT_EQ(read_only_uri("/d/x.db", false, false, false), "file:///d/x.db?mode=ro");
  EXPECT_EQ(read_only_uri("x.db", true, false, true),
            "file://" + (fs::current_path() / "x.db").string() + "?mode=ro");
}

// --- migrations

const char* const kTables[] = {"schema_version", "sweeps",         "trials",
                               "sweep_trials",   "train_steps",    "loss_breakdown",
                               "loss_intervals", "loss_histogram", "loss_cdf",
                               "evaluations",    "class_ap"};

// Every column of `table` with its type, NOT NULL, default and key position.
std::vector<std::string> table_info(Database& db, const std::string& table) {
  std::vector<std::string> out;
  auto st = db.prepare("PRAGMA table_info(" + table + ")");
  while (st.step()) {
    out.push_back(st.get_text(1) + " " + st.get_text(2) + " " + st.get_text(3) + " " +
                  st.get_text(4) + " " + st.get_text(5));
  }
  return out;
}

int64_t scalar(Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.step()) << sql;
  return st.is_null(0) ? -1 : st.get_int(0);
}

std::string copy_fixture(const TempDir& dir, int version) {
  const std::string from =
      std::string(FOCALAB_SOURCE_DIR) + "/tests/data/schema/v" + std::to_string(version) + ".db";
  const std::string to = dir.file("v" + std::to_string(version) + ".db");
  fs::copy_file(from, to);
  return to;
}

TEST(SchemaMigration, FixturesAreOfTheirVersion) {
  TempDir dir;
  for (int v = 1; v <= kSchemaVersion; ++v) {
    const std::string path = copy_fixture(dir, v);
    Database db(path, Database::Mode::kReadOnly);
    EXPECT_EQ(results_schema_version(db), v);
  }
}

TEST(SchemaMigration, EveryEarlierVersionMigratesWithItsRows) {
  TempDir dir;
  Store fresh(dir.file("fresh.db"));
  for (int v = 1; v <= kSchemaVersion; ++v) {
    SCOPED_TRACE("schema version " + std::to_string(v));
    const std::string path = copy_fixture(dir, v);
    Store store(path);
    Database& db = store.db();
    EXPECT_EQ(results_schema_version(db), kSchemaVersion);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM schema_version"), 1);
    // The tables are those of a new database, column by column.
    for (const char* table : kTables) {
      EXPECT_EQ(table_info(db, table), table_info(fresh.db(), table)) << table;
    }
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM sqlite_master WHERE type = 'view'"), 1);
    // The rows: counts and values.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM sweeps"), 1);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM trials"), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM sweep_trials"), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM train_steps"), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM loss_breakdown"), 6);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM loss_intervals"), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM evaluations"), 6);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM class_ap"), 1);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM loss_histogram"), v >= 2 ? 2 : 0);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM loss_cdf"), v >= 5 ? 3 : 0);
    {
      auto st = db.prepare(
          "SELECT loss_cls, loss_total, ms_per_iter, data_ms FROM train_steps WHERE trial_id = 1 "
          "AND iteration = 4");
      ASSERT_TRUE(st.step());
      EXPECT_EQ(st.get_double(0), 0.875);
      EXPECT_EQ(st.get_double(1), 1.25);
      EXPECT_EQ(st.get_double(2), 240.0);
      if (v >= 3) {
        EXPECT_EQ(st.get_double(3), 1.25);
      } else {
        EXPECT_TRUE(st.is_null(3));
      }
    }
    EXPECT_EQ(scalar(db, "SELECT pid FROM trials WHERE id = 1"), v >= 4 ? 4242 : -1);
    EXPECT_EQ(scalar(db, "SELECT sum(count) FROM loss_breakdown WHERE class_id = -1"), 70061);
    EXPECT_EQ(scalar(db, "SELECT ignored_anchors FROM loss_intervals WHERE iteration = 4"), 298);
    {
      auto st = db.prepare("SELECT class_name, ap FROM class_ap");
      ASSERT_TRUE(st.step());
      EXPECT_EQ(st.get_text(0), "square");
      EXPECT_EQ(st.get_double(1), 0.3125);
    }
    const auto trial = store.find_trial("0123456789abcdef");
    ASSERT_TRUE(trial);
    EXPECT_EQ(trial->status, TrialStatus::kDone);
    EXPECT_EQ(trial->checkpoint_path, "legacy.db-checkpoints/0123456789abcdef.pth");
    // The view: the done trial's final AP, the pending one's none.
    {
      auto st = db.prepare(
          "SELECT sweep, key, status, loss, gamma, alpha, iterations, AP, AP50, AP75 FROM "
          "results ORDER BY trial_id");
      ASSERT_TRUE(st.step());
      EXPECT_EQ(st.get_text(0), "legacy");
      EXPECT_EQ(st.get_text(1), "0123456789abcdef");
      EXPECT_EQ(st.get_text(2), "done");
      EXPECT_EQ(st.get_text(3), "focal");
      EXPECT_EQ(st.get_double(4), 2.0);
      EXPECT_EQ(st.get_double(5), 0.25);
      EXPECT_EQ(st.get_int(6), 4);
      EXPECT_EQ(st.get_double(7), 0.3125);
      EXPECT_EQ(st.get_double(8), 0.5);
      EXPECT_EQ(st.get_double(9), 0.25);
      ASSERT_TRUE(st.step());
      EXPECT_EQ(st.get_text(1), "fedcba9876543210");
      EXPECT_TRUE(st.is_null(7));
      EXPECT_FALSE(st.step());
    }
    // The migrated database takes today's writes.
    EXPECT_TRUE(store.claim_trial(2, "cpu", {TrialStatus::kPending}, 60));
    EXPECT_GT(scalar(db, "SELECT pid FROM trials WHERE id = 2"), 0);
    LossCdfResult cdf;
    cdf.iteration = 4;
    cdf.images = 2;
    LossCdfCurve curve;
    curve.gamma = 1;
    curve.examples = "positive";
    curve.count = 3;
    curve.fraction = {0.0, 1.0};
    curve.cumulative = {0.0, 1.0};
    cdf.curves.push_back(curve);
    store.write_loss_cdf(1, cdf);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM loss_cdf"), 2);
  }
}

// The view is today's after a migration, whatever the database had: before ordered steps,
// `CREATE VIEW IF NOT EXISTS` kept an old definition forever.
TEST(SchemaMigration, OldViewIsReplaced) {
  TempDir dir;
  const std::string path = copy_fixture(dir, 4);
  {
    Database db(path, Database::Mode::kReadWriteCreate);
    db.exec("DROP VIEW results; CREATE VIEW results AS SELECT key AS stale FROM trials;");
  }
  Store store(path);
  auto st = store.db().prepare("SELECT AP FROM results WHERE key = '0123456789abcdef'");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.get_double(0), 0.3125);
}

TEST(SchemaMigration, NewerSchemaIsRefusedUnchanged) {
  TempDir dir;
  const std::string path = copy_fixture(dir, 5);
  {
    Database db(path, Database::Mode::kReadWriteCreate);
    db.exec("UPDATE schema_version SET version = 99");
  }
  const std::string before = read_bytes(path);
  const std::string why = store_error([&] { Store store(path); });
  EXPECT_NE(why.find(path + ": schema version 99 is newer than this focalab supports"),
            std::string::npos)
      << why;
  EXPECT_TRUE(read_bytes(path) == before) << path << " changed";
  EXPECT_FALSE(fs::exists(path + "-wal"));
}

// db merge only reads its shards (they may lie on a shared file system): an old shard is merged
// through a migrated copy and stays as it was.
TEST(SchemaMigration, MergeReadsAnOldShardWithoutChangingIt) {
  TempDir dir;
  const std::string shard = copy_fixture(dir, 1);
  const std::string before = read_bytes(shard);
  {
    Store into(dir.file("into.db"));
    const auto counts = into.merge_from(shard);
    EXPECT_EQ(counts.sweeps_added, 1);
    EXPECT_EQ(counts.trials_added, 2);
    auto st = into.db().prepare("SELECT AP FROM results WHERE key = '0123456789abcdef'");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.get_double(0), 0.3125);
    EXPECT_EQ(scalar(into.db(), "SELECT count(*) FROM train_steps"), 2);
    EXPECT_EQ(into.merge_from(shard).trials_kept, 2);  // idempotent
  }
  EXPECT_TRUE(read_bytes(shard) == before) << shard << " changed";
  EXPECT_EQ(files_in(dir.file("")), (std::set<std::string>{"into.db", "v1.db"}));
}

// A database left half-migrated (a process killed between two steps) is at one version and
// the next open continues from it.
TEST(SchemaMigration, EachStepIsItsOwnVersion) {
  TempDir dir;
  const std::string path = copy_fixture(dir, 2);
  {
    Database db(path, Database::Mode::kReadWriteCreate);
    // What step 3 leaves: data_ms, version 3.
    db.exec("ALTER TABLE train_steps ADD COLUMN data_ms REAL; UPDATE schema_version SET "
            "version = 3;");
  }
  Store store(path);
  EXPECT_EQ(results_schema_version(store.db()), kSchemaVersion);
  EXPECT_EQ(scalar(store.db(), "SELECT count(*) FROM loss_cdf"), 0);
  EXPECT_EQ(scalar(store.db(), "SELECT count(*) FROM train_steps"), 2);
}

}  // namespace
}  // namespace focalab::harness
