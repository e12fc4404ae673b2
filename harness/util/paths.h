#pragma once
// Checks of the paths a user passes, made before they are used: an empty argument, a folder
// where a file belongs, a FIFO or device file (reading one blocks forever; writing one feeds
// another program) are refused with one line naming the option and what it allows.

#include <string>
#include <string_view>

namespace focalab::harness {
inline namespace util {

// `path` names an existing regular file to read. `what` names the argument ("--weights").
// Throws UsageError for an empty path, DataError for a missing file or one of another kind.
void require_input_file(const std::string& path, const std::string& what);

// `path` may be written as a file: not empty, not an existing folder, FIFO, device or socket, in
// an existing folder. Throws UsageError.
void require_output_file(const std::string& path, const std::string& what);

// `path` is a folder to write into, or may be created as one: not empty, not an existing file of
// any kind. Throws UsageError.
void require_output_dir(const std::string& path, const std::string& what);

// Writes `bytes` to `path`.tmp, then renames it over `path`: a reader never sees half a file.
// Throws UsageError for a path require_output_file refuses (naming `what`), DataError when the
// write fails (the .tmp file removed, an existing `path` untouched). Every file focalab writes
// whole (figures, scripts, checkpoints, exported weights, reports) goes through here.
void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::string& what = "--out");

// "a folder", "a FIFO", "a character device", ... for an existing path that is not a regular file.
std::string kind_of_path(const std::string& path);

}  // namespace util
}  // namespace focalab::harness
