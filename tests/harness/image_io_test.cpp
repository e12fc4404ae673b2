// Image decoding. Fixtures from tests/data/make_fixtures.py: rgb_16x20 has R = 12 x, G = 15 y,
// B = 77; the JPEG's expected pixels are PIL's decode of the same file (libjpeg-turbo), which a
// different IDCT may miss by a level or two.

#include <fstream>
#include <regex>
#include <tuple>

#include "harness/data/image_io.h"
#include "harness/util/errors.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

std::string fixture(const std::string& name) {
  return std::string(FOCALAB_SOURCE_DIR) + "/tests/data/" + name;
}

float level(const torch::Tensor& img, int c, int y, int x) {
  return img[c][y][x].item<float>() * 255.0f;
}

TEST(ImageIo, PngDecodesToRgbInZeroOne) {
  auto img = read_image(fixture("rgb_16x20.png"));
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 16, 20}));
  EXPECT_EQ(img.scalar_type(), torch::kFloat);
  EXPECT_FLOAT_EQ(level(img, 0, 3, 5), 60.0f);
  EXPECT_FLOAT_EQ(level(img, 1, 3, 5), 45.0f);
  EXPECT_FLOAT_EQ(level(img, 2, 3, 5), 77.0f);
  EXPECT_FLOAT_EQ(img[0][15][19].item<float>(), 228.0f / 255.0f);
  EXPECT_EQ(probe_image(fixture("rgb_16x20.png")), (std::pair<int64_t, int64_t>{16, 20}));
}

TEST(ImageIo, GrayIsReplicatedAndAlphaDropped) {
  auto gray = read_image(fixture("gray_16x20.png"));
  ASSERT_EQ(gray.sizes(), (std::vector<int64_t>{3, 16, 20}));
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(level(gray, c, 2, 7), 47.0f);  // 20 * 2 + 7
  auto rgba = read_image(fixture("rgba_16x20.png"));
  EXPECT_TRUE(torch::equal(rgba, read_image(fixture("rgb_16x20.png"))));
}

TEST(ImageIo, JpegMatchesPilWithinTwoLevels) {
  auto img = read_image(fixture("rgb_16x20.jpg"));
  // PIL: pixel (y=3, x=5) = (59, 46, 76), (15, 19) = (227, 224, 83)
  EXPECT_NEAR(level(img, 0, 3, 5), 59.0f, 2.0f);
  EXPECT_NEAR(level(img, 1, 3, 5), 46.0f, 2.0f);
  EXPECT_NEAR(level(img, 2, 3, 5), 76.0f, 2.0f);
  EXPECT_NEAR(level(img, 0, 15, 19), 227.0f, 2.0f);
  EXPECT_NEAR(level(img, 1, 15, 19), 224.0f, 2.0f);
  EXPECT_NEAR(level(img, 2, 15, 19), 83.0f, 2.0f);
}

TEST(ImageIo, CmykAndGrayJpegsDecodeToRgbAsPilConvertsThem) {
  // cmyk_16x20.jpg: Adobe APP14 inverted CMYK (transform 0), as Photoshop writes them; the PNGs
  // hold PIL's Image.convert("RGB") of the decoded files (make_fixtures.py).
  auto cmyk = read_image(fixture("cmyk_16x20.jpg"));
  auto cmyk_pil = read_image(fixture("cmyk_16x20_rgb.png"));
  ASSERT_EQ(cmyk.sizes(), cmyk_pil.sizes());
  EXPECT_LE((cmyk - cmyk_pil).abs().max().item<float>() * 255.0f, 3.0f);
  // ... and close to the RGB image it was made from (R = 12 x, G = 15 y, B = 77)
  EXPECT_NEAR(level(cmyk, 0, 3, 5), 60.0f, 6.0f);
  EXPECT_NEAR(level(cmyk, 2, 3, 5), 77.0f, 6.0f);
  auto gray = read_image(fixture("gray_16x20.jpg"));
  auto gray_pil = read_image(fixture("gray_16x20_jpg_rgb.png"));
  ASSERT_EQ(gray.sizes(), (std::vector<int64_t>{3, 16, 20}));
  EXPECT_LE((gray - gray_pil).abs().max().item<float>() * 255.0f, 2.0f);
  EXPECT_TRUE(torch::equal(gray[0], gray[2]));
}

TEST(ImageIo, TruncatedJpegIsAnErrorTrailingBytesAreNot) {
  testing::TempDir dir;
  std::string bytes;
  {
    std::ifstream in(fixture("rgb_16x20.jpg"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // cut after the header: decoders would fill the rest with gray
  std::ofstream(dir.file("cut.jpg"), std::ios::binary) << bytes.substr(0, bytes.size() - 40);
  for (auto fn : {+[](const std::string& p) { probe_image(p); },
                  +[](const std::string& p) { read_image(p); }}) {
    try {
      fn(dir.file("cut.jpg"));
      ADD_FAILURE() << "expected a DataError";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("cut.jpg: truncated or corrupt JPEG"),
                std::string::npos) << e.what();
    }
  }
  std::ofstream(dir.file("tail.jpg"), std::ios::binary) << bytes << std::string(100, 'x');
  EXPECT_EQ(probe_image(dir.file("tail.jpg")), (std::pair<int64_t, int64_t>{16, 20}));
}

uint32_t crc32(const std::string& bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}
std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}
// The chunks of a PNG: (type, data) in file order.
std::vector<std::pair<std::string, std::string>> png_chunks(const std::string& png) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t len = static_cast<uint32_t>(static_cast<unsigned char>(png[at])) << 24 |
                         static_cast<uint32_t>(static_cast<unsigned char>(png[at + 1])) << 16 |
                         static_cast<uint32_t>(static_cast<unsigned char>(png[at + 2])) << 8 |
                         static_cast<unsigned char>(png[at + 3]);
    out.emplace_back(png.substr(at + 4, 4), png.substr(at + 8, len));
    at += 12 + len;
  }
  return out;
}

// A PNG cut short passes the header probe of every decoder; `data check` and the data.on_bad
// pre-check rely on probe_image to find it, so its chunk structure is checked: every chunk's
// length inside the file, IHDR first, IDAT before IEND, IEND present, the CRCs of IHDR and IEND.
TEST(ImageIo, TruncatedOrMalformedPngIsAnError) {
  testing::TempDir dir;
  // 96 x 64 of noise (so that it does not compress to nothing), its IDAT split into 500-byte
  // chunks as encoders that stream do
  torch::manual_seed(3);
  write_png(dir.file("noise.png"), torch::rand({3, 64, 96}));
  std::string png;
  {
    std::ifstream in(dir.file("noise.png"), std::ios::binary);
    png.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto chunks = png_chunks(png);
  ASSERT_EQ(chunks.front().first, "IHDR");
  ASSERT_EQ(chunks.back().first, "IEND");
  std::string idat, ihdr = png_chunk("IHDR", chunks.front().second);
  for (const auto& [type, data] : chunks) {
    if (type == "IDAT") idat += data;
  }
  ASSERT_GT(idat.size(), 5000u);
  const std::string sig = png.substr(0, 8), iend = png_chunk("IEND", "");
  std::string split;
  for (size_t at = 0; at < idat.size(); at += 500) split += png_chunk("IDAT", idat.substr(at, 500));
  const std::string multi = sig + ihdr + split + iend;
  const size_t last_idat_end = multi.size() - iend.size();
  std::string bad_ihdr_crc = multi;
  bad_ihdr_crc[8 + 8 + 13] ^= 0x01;
  std::string bad_length = multi;  // the third IDAT chunk claims 2^31 - 1 bytes
  bad_length.replace(8 + ihdr.size() + 2 * (12 + 500), 4, be32(0x7FFFFFFF));

  // complete files load, with bytes after IEND (ignored, as libpng does)
  std::ofstream(dir.file("multi.png"), std::ios::binary) << multi << "trailing";
  EXPECT_EQ(probe_image(dir.file("multi.png")), (std::pair<int64_t, int64_t>{64, 96}));
  EXPECT_TRUE(torch::equal(read_image(dir.file("multi.png")), read_image(dir.file("noise.png"))));

  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"half.png", png.substr(0, png.size() / 2), "IDAT chunk at byte 33 is cut short"},
      {"multi_half.png", multi.substr(0, multi.size() / 2), "IDAT chunk at byte [0-9]+ is cut"},
      {"at_boundary.png", multi.substr(0, last_idat_end), "no IEND chunk"},
      {"no_iend_crc.png", multi.substr(0, multi.size() - 4), "IEND chunk at byte [0-9]+ is cut"},
      {"no_idat.png", sig + ihdr + iend, "no image data \\(IDAT\\)"},
      {"bad_ihdr_crc.png", bad_ihdr_crc, "CRC of IHDR"},
      {"bad_length.png", bad_length, "IDAT chunk at byte 1057 .*declares 2147483647 data bytes"},
      {"junk_type.png", sig + ihdr + png_chunk("I\x01T@", "x") + split + iend, "not a chunk type"},
  };
  for (const auto& [name, content, pattern] : cases) {
    SCOPED_TRACE(name);
    std::ofstream(dir.file(name), std::ios::binary) << content;
    for (auto fn : {+[](const std::string& p) { probe_image(p); },
                    +[](const std::string& p) { read_image(p); }}) {
      try {
        fn(dir.file(name));
        ADD_FAILURE() << "expected a DataError";
      } catch (const DataError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(name + ": truncated or corrupt PNG ("), std::string::npos) << what;
        EXPECT_TRUE(std::regex_search(what, std::regex(pattern))) << what;
        EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      }
    }
  }
}

TEST(ImageIo, WritePngRoundTrips) {
  testing::TempDir dir;
  auto img = read_image(fixture("rgb_16x20.png"));
  write_png(dir.file("out.png"), img);
  EXPECT_TRUE(torch::equal(read_image(dir.file("out.png")), img));
}

TEST(ImageIo, BadFilesAreDataErrorsNamingTheFile) {
  testing::TempDir dir;
  std::ifstream in(fixture("rgb_16x20.jpg"), std::ios::binary);
  const std::string jpeg((std::istreambuf_iterator<char>(in)), {});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.png", ""},
      {"text.png", "not an image at all"},
      {"truncated.jpg", jpeg.substr(0, jpeg.size() / 3)},
      {"header_only.png", std::string("\x89PNG\r\n\x1a\n", 8)},
  };
  for (const auto& [name, content] : cases) {
    SCOPED_TRACE(name);
    const std::string path = dir.write(name, content);
    try {
      read_image(path);
      ADD_FAILURE() << "no error";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(read_image(dir.file("missing.png")), DataError);
}

}  // namespace
}  // namespace focalab::harness
