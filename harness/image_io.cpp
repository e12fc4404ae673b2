#include "harness/image_io.h"

#include <fmt/format.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <torch/torch.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "harness/errors.h"

namespace focalab {

std::pair<int64_t, int64_t> probe_image(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError(fmt::format("{}: no such image file", path));
  }
  if (std::filesystem::file_size(path, ec) == 0) {
    throw DataError(fmt::format("{}: empty file (0 bytes), not an image", path));
  }
  int w = 0, h = 0, channels = 0;
  if (!stbi_info(path.c_str(), &w, &h, &channels)) {
    throw DataError(fmt::format("{}: not a readable image ({}; supported: PNG, JPEG, BMP, TGA, "
                                "GIF, binary PNM)", path, stbi_failure_reason()));
  }
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > (int64_t{1} << 28)) {
    throw DataError(fmt::format("{}: image of {} x {} pixels (allowed: 1 to 2^28 pixels)", path,
                                w, h));
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

}  // namespace focalab
