#pragma once
// Reading and writing images (PNG, JPEG, BMP, TGA, GIF, PNM read; PNG written) through Debian's
// libstb. Images are tensors [3, H, W] of float in [0, 1], RGB: grayscale is replicated and alpha
// dropped, as PIL's Image.convert("RGB") does, so focalab sees what a torchvision user sees.

#include <torch/types.h>

#include <string>
#include <utility>

namespace focalab::harness {
inline namespace data {

// Throws DataError naming the file and the reason (missing, empty, truncated, not an image,
// larger than 2^26 pixels or with more pixels than its size can hold, a JPEG without its
// end-of-image marker or a PNG whose chunks do not reach IEND: cut short).
torch::Tensor read_image(const std::string& path);

// The (height, width) of the image in `path` from its header, without decoding it, and whether
// the file is complete: a JPEG's last 4 KiB must hold its end-of-image marker; a PNG's chunks
// must lie inside the file, start with IHDR, hold IDAT and reach IEND (CRCs of IHDR and IEND
// checked). Reads the header, then the tail (JPEG) or the chunk headers (PNG), not the pixels.
// Throws DataError as read_image does.
std::pair<int64_t, int64_t> probe_image(const std::string& path);

// Writes image [3, H, W] (float in [0, 1], clamped) as an 8-bit RGB PNG.
void write_png(const std::string& path, const torch::Tensor& image);

}  // namespace data
}  // namespace focalab::harness
