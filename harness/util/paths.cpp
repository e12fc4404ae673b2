#include "harness/util/paths.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace util {

namespace fs = std::filesystem;

std::string kind_of_path(const std::string& path) {
  std::error_code ec;
  const auto type = fs::status(path, ec).type();
  if (ec && type == fs::file_type::none) return fmt::format("unreadable ({})", ec.message());
  switch (type) {
    case fs::file_type::regular: return "a file";
    case fs::file_type::directory: return "a folder";
    case fs::file_type::fifo: return "a FIFO";
    case fs::file_type::character: return "a character device";
    case fs::file_type::block: return "a block device";
    case fs::file_type::socket: return "a socket";
    case fs::file_type::not_found: return "missing";
    default: return "not a regular file";
  }
}

void require_input_file(const std::string& path, const std::string& what) {
  if (path.empty()) throw UsageError(fmt::format("{}: empty path (expected a file)", what));
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    throw DataError(fmt::format("{} {}: no such file", what, path));
  }
  if (st.type() != fs::file_type::regular) {
    throw DataError(fmt::format("{} {}: is {}; expected a regular file", what, path,
                                kind_of_path(path)));
  }
}

void require_output_file(const std::string& path, const std::string& what) {
  if (path.empty()) throw UsageError(fmt::format("{}: empty path (expected a file to write)", what));
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (st.type() != fs::file_type::not_found && st.type() != fs::file_type::regular) {
    throw UsageError(fmt::format("{} {}: is {}; expected a regular file to write (it is left "
                                 "as it is)",
                                 what, path, kind_of_path(path)));
  }
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) {
    throw UsageError(fmt::format("{} {}: no folder '{}' to write it in", what, path,
                                 parent.string()));
  }
}

void require_output_dir(const std::string& path, const std::string& what) {
  if (path.empty()) {
    throw UsageError(fmt::format("{}: empty path (expected a folder to write into)", what));
  }
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (st.type() != fs::file_type::not_found && st.type() != fs::file_type::directory) {
    throw UsageError(fmt::format("{} {}: is {}; expected a folder (or a path to create one)",
                                 what, path, kind_of_path(path)));
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::string& what) {
  require_output_file(path, what);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      const std::string why = std::strerror(errno);
      f.close();
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw DataError(fmt::format("{}: cannot write {} bytes ({})", path, bytes.size(), why));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    throw DataError(fmt::format("{}: cannot write ({})", path, why));
  }
}

}  // namespace util
}  // namespace focalab::harness
