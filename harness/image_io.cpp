#include "harness/image_io.h"

#include <fmt/format.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>
#include <cstring>
#include <filesystem>
#include <memory>

#include "harness/errors.h"

namespace focalab {

namespace {

// A JPEG ends with the end-of-image marker FF D9, which cannot occur inside entropy-coded data
// (FF is stuffed there); a file cut short lacks it. Decoders (libjpeg's "premature end of
// data", stb) fill the missing part with gray instead of failing, so look for it in the last
// 4 KiB (some cameras append a little data after it).
void check_jpeg_end(const std::string& path, std::uintmax_t size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return;  // stbi_info reports it
  unsigned char head[2] = {0, 0};
  const bool jpeg = std::fread(head, 1, 2, f) == 2 && head[0] == 0xFF && head[1] == 0xD8;
  bool has_end = true;
  if (jpeg) {
    const long tail = static_cast<long>(std::min<std::uintmax_t>(size, 4096));
    std::vector<unsigned char> buf(static_cast<size_t>(tail));
    has_end = std::fseek(f, -tail, SEEK_END) == 0 &&
              std::fread(buf.data(), 1, buf.size(), f) == buf.size() &&
              std::adjacent_find(buf.begin(), buf.end(), [](unsigned char a, unsigned char b) {
                return a == 0xFF && b == 0xD9;
              }) != buf.end();
  }
  std::fclose(f);
  if (!has_end) {
    throw DataError(fmt::format("{}: truncated or corrupt JPEG (no end-of-image marker in its "
                                "last {} bytes)", path, std::min<std::uintmax_t>(size, 4096)));
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
  check_jpeg_end(path, size);
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

}  // namespace focalab
