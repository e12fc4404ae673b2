#include "harness/data/image_io.h"

#include <fmt/format.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <torch/torch.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace data {

namespace {

// The completeness checks below read a file's first bytes and then either its last 4 KiB (JPEG)
// or its chunk headers (PNG), never the whole file: the data.on_bad: error pre-check runs them
// over every image of a dataset before training. For COCO 2017 train (118,287 JPEGs, 18 GB)
// that is 2 small reads per file besides the header stb reads: about 5 s on one core from the
// page cache, and on a cold disk the time of 3 random reads per file, spread over the
// dataset's loader threads.
class File {
 public:
  explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  bool ok() const { return fd_ >= 0; }
  // Reads up to `n` bytes at `offset`; returns how many were read.
  size_t read_at(uint64_t offset, unsigned char* out, size_t n) const {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

 private:
  int fd_;
};

// A JPEG ends with the end-of-image marker FF D9, which cannot occur inside entropy-coded data
// (FF is stuffed there); a file cut short lacks it. Decoders (libjpeg's "premature end of
// data", stb) fill the missing part with gray instead of failing, so look for it in the last
// 4 KiB (some cameras append a little data after it).
void check_jpeg_end(const std::string& path, const File& f, std::uintmax_t size) {
  const size_t tail = static_cast<size_t>(std::min<std::uintmax_t>(size, 4096));
  std::vector<unsigned char> buf(tail);
  const bool has_end =
      f.read_at(size - tail, buf.data(), tail) == tail &&
      std::adjacent_find(buf.begin(), buf.end(), [](unsigned char a, unsigned char b) {
        return a == 0xFF && b == 0xD9;
      }) != buf.end();
  if (!has_end) {
    throw DataError(fmt::format("{}: truncated or corrupt JPEG (no end-of-image marker in its "
                                "last {} bytes)", path, tail));
  }
}

uint32_t be32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

uint32_t crc32(const unsigned char* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

// What is wrong with the chunks of the PNG in `f` ("" if nothing). A PNG is its signature and
// chunks (4-byte length, 4-letter type, data, CRC) from IHDR to IEND. A file cut short passes
// every decoder's header probe, and stb decodes some cuts without complaint, so completeness is
// read from the chunk structure: each chunk's length inside the file, IHDR first, IDAT before
// IEND, IEND present (bytes after it are ignored, as libpng does). Only the 8-byte chunk headers
// are read, 4 KiB at a time, and the CRCs of IHDR and IEND; the data chunks' CRCs would need the
// whole file read, and corrupt image data fails the decoder's own zlib checks.
std::string png_problem(const File& f, uint64_t size) {
  unsigned char window[4096];
  uint64_t window_at = 0;
  size_t window_len = 0;
  auto bytes_at = [&](uint64_t pos, size_t n) -> const unsigned char* {  // n <= 64
    if (pos < window_at || pos + n > window_at + window_len) {
      window_at = pos;
      window_len = f.read_at(pos, window, sizeof window);
      if (window_len < n) return nullptr;
    }
    return window + (pos - window_at);
  };
  bool idat = false;
  std::string last = "signature";
  for (uint64_t pos = 8, index = 0;; ++index) {
    const uint64_t left = size - pos;
    if (left == 0) return fmt::format("no IEND chunk: the file ends after {}", last);
    const unsigned char* h = left >= 8 ? bytes_at(pos, 8) : nullptr;
    if (!h) return fmt::format("cut short at byte {} in a chunk header", pos);
    const uint32_t len = be32(h);
    const std::string type(reinterpret_cast<const char*>(h + 4), 4);
    for (char c : type) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
        return fmt::format("bytes at {} are not a chunk type (corrupt)", pos + 4);
      }
    }
    if (left < uint64_t{12} + len) {
      return fmt::format("the {} chunk at byte {} is cut short: it declares {} data bytes, the "
                         "file ends {} bytes early", type, pos, len, uint64_t{12} + len - left);
    }
    if (index == 0 && (type != "IHDR" || len != 13)) return "it does not start with IHDR";
    if (type == "IHDR" || type == "IEND") {
      const unsigned char* c = bytes_at(pos + 4, 4 + len + 4);  // type, data, CRC
      if (!c || crc32(c, 4 + len) != be32(c + 4 + len)) {
        return fmt::format("the CRC of {} does not match", type);
      }
    }
    if (type == "IEND" && len != 0) return "an IEND chunk with data";
    if (type == "IDAT") idat = true;
    if (type == "IEND") return idat ? "" : "no image data (IDAT) before IEND";
    last = type;
    pos += uint64_t{12} + len;
  }
}

}  // namespace

std::pair<int64_t, int64_t> probe_image(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError(fmt::format("{}: no such image file", path));
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (size == 0) throw DataError(fmt::format("{}: empty file (0 bytes), not an image", path));
  int w = 0, h = 0, channels = 0;
  if (!stbi_info(path.c_str(), &w, &h, &channels)) {
    throw DataError(fmt::format("{}: not a readable image ({}; supported: PNG, JPEG, BMP, TGA, "
                                "GIF, binary PNM)", path, stbi_failure_reason()));
  }
  const int64_t pixels = static_cast<int64_t>(w) * h;
  if (w <= 0 || h <= 0 || pixels > (int64_t{1} << 26)) {
    throw DataError(fmt::format("{}: image of {} x {} pixels (allowed: 1 to 2^26 = 67 million "
                                "pixels)", path, w, h));
  }
  // No format stores more than a few hundred pixels per byte (a one-colour PNG about 350): a
  // header claiming far more is corrupt, and decoding it would allocate gigabytes.
  if (pixels > 4096 * static_cast<int64_t>(size)) {
    throw DataError(fmt::format("{}: the header says {} x {} pixels, too many for a file of {} "
                                "bytes (corrupt or truncated)", path, w, h, size));
  }
  File f(path);
  unsigned char head[8] = {0};
  if (!f.ok() || f.read_at(0, head, 8) < 2) {
    throw DataError(fmt::format("{}: cannot read ({})", path, std::strerror(errno)));
  }
  if (head[0] == 0xFF && head[1] == 0xD8) check_jpeg_end(path, f, size);
  if (std::memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0) {
    const std::string problem = png_problem(f, size);
    if (!problem.empty()) {
      throw DataError(fmt::format("{}: truncated or corrupt PNG ({})", path, problem));
    }
  }
  return {h, w};
}

torch::Tensor read_image(const std::string& path) {
  auto [height, width] = probe_image(path);
  int w = static_cast<int>(width), h = static_cast<int>(height), channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(path.c_str(), &w, &h, &channels, 3),
                                                   stbi_image_free);
  if (!pixels) {
    throw DataError(fmt::format("{}: cannot decode image: corrupt or truncated ({})", path,
                                stbi_failure_reason()));
  }
  auto hwc = torch::from_blob(pixels.get(), {h, w, 3}, torch::kUInt8);
  return hwc.permute({2, 0, 1}).to(torch::kFloat).div_(255.0).contiguous();
}

void write_png(const std::string& path, const torch::Tensor& image) {
  TORCH_CHECK(image.dim() == 3 && image.size(0) == 3, "write_png: expected [3, H, W], got ",
              image.sizes());
  auto hwc = image.detach().to(torch::kCPU, torch::kFloat)
                 .clamp(0.0, 1.0).mul(255.0).round().to(torch::kUInt8)
                 .permute({1, 2, 0}).contiguous();
  const int h = static_cast<int>(hwc.size(0)), w = static_cast<int>(hwc.size(1));
  if (!stbi_write_png(path.c_str(), w, h, 3, hwc.data_ptr<uint8_t>(), w * 3)) {
    throw DataError(fmt::format("{}: cannot write PNG ({})", path, std::strerror(errno)));
  }
}

}  // namespace data
}  // namespace focalab::harness
