// Image decoding. Fixtures from tests/data/make_fixtures.py: rgb_16x20 has R = 12 x, G = 15 y,
// B = 77; the JPEG's expected pixels are PIL's decode of the same file (libjpeg-turbo), which a
// different IDCT may miss by a level or two.

#include <fstream>

#include "harness/errors.h"
#include "harness/image_io.h"
#include "test_util.h"

namespace focalab {
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
}  // namespace focalab
