#include "harness/eval/coco_synth.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace eval {

CocoValPair generate_coco_val_pair(int64_t images, int64_t dets_per_image, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<int64_t> cat_ids;
  for (int64_t c = 1; c <= 90 && cat_ids.size() < 80; ++c) {
    if (c == 12 || c == 26 || c == 29 || c == 30 || c == 45 || c == 66 || c == 68 || c == 69 ||
        c == 71 || c == 83) {
      continue;  // the ids COCO 2017 does not use
    }
    cat_ids.push_back(c);
  }
  auto box = [&] {
    const double side = std::exp(std::log(4.0) + u(rng) * (std::log(400.0) - std::log(4.0)));
    const double w = side * (0.5 + u(rng)), h = side * (0.5 + u(rng));
    return std::array<double, 4>{u(rng) * (640 - w), u(rng) * (480 - h), w, h};
  };
  std::string gt = "{\"images\": [";
  for (int64_t i = 0; i < images; ++i) {
    gt += fmt::format("{}{{\"id\": {}, \"width\": 640, \"height\": 480, \"file_name\": "
                      "\"{:012d}.jpg\"}}", i ? ", " : "", i + 1, i + 1);
  }
  gt += "], \"categories\": [";
  for (size_t k = 0; k < cat_ids.size(); ++k) {
    gt += fmt::format("{}{{\"id\": {}, \"name\": \"class{}\"}}", k ? ", " : "", cat_ids[k],
                      cat_ids[k]);
  }
  gt += "], \"annotations\": [";
  std::string dt = "[";
  int64_t ann_id = 1, n_gt = 0;
  for (int64_t i = 0; i < images; ++i) {
    const int64_t count = 1 + static_cast<int64_t>(u(rng) * 13.6);  // mean ~7.3 per image
    std::vector<std::pair<int64_t, std::array<double, 4>>> objects;
    for (int64_t j = 0; j < count; ++j) {
      const int64_t cat = cat_ids[static_cast<size_t>(u(rng) * 80) % 80];
      const auto b = box();
      objects.emplace_back(cat, b);
      gt += fmt::format("{}{{\"id\": {}, \"image_id\": {}, \"category_id\": {}, \"bbox\": "
                        "[{:.2f}, {:.2f}, {:.2f}, {:.2f}], \"area\": {:.2f}, \"iscrowd\": {}, "
                        "\"segmentation\": [[{:.1f}, {:.1f}, {:.1f}, {:.1f}]]}}",
                        n_gt ? ", " : "", ann_id++, i + 1, cat, b[0], b[1], b[2], b[3],
                        0.7 * b[2] * b[3], u(rng) < 0.01 ? 1 : 0, b[0], b[1], b[2], b[3]);
      ++n_gt;
    }
    for (int64_t d = 0; d < dets_per_image; ++d) {
      int64_t cat;
      std::array<double, 4> b;
      if (u(rng) < 0.6) {
        const auto& [c, g] = objects[static_cast<size_t>(u(rng) * static_cast<double>(objects.size())) % objects.size()];
        cat = c;
        b = {g[0] + (u(rng) - 0.5) * 0.3 * g[2], g[1] + (u(rng) - 0.5) * 0.3 * g[3],
             g[2] * (0.8 + 0.4 * u(rng)), g[3] * (0.8 + 0.4 * u(rng))};
      } else {
        cat = cat_ids[static_cast<size_t>(u(rng) * 80) % 80];
        b = box();
      }
      dt += fmt::format("{}{{\"image_id\": {}, \"category_id\": {}, \"bbox\": [{:.2f}, {:.2f}, "
                        "{:.2f}, {:.2f}], \"score\": {:.5f}}}",
                        (i || d) ? ", " : "", i + 1, cat, b[0], b[1], b[2], b[3], u(rng));
    }
  }
  gt += "]}";
  dt += "]";
  CocoValPair out;
  out.gt_json = std::move(gt);
  out.dt_json = std::move(dt);
  out.gt_boxes = n_gt;
  out.categories = static_cast<int64_t>(cat_ids.size());
  return out;
}

int64_t write_coco_train_shaped(const std::string& path, int64_t mb, int64_t images,
                                int64_t annotations, uint64_t seed) {
  // Generation, streamed: images first (fixed size), then annotations whose polygons take the
  // remaining bytes.
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw DataError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  std::string buf;
  auto flush = [&](bool force) {
    if (buf.size() > (1 << 20) || force) {
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
        const std::string why = std::strerror(errno);
        std::fclose(f);
        throw DataError(fmt::format("{}: cannot write: {}", path, why));
      }
      buf.clear();
    }
  };
  int64_t written = 0;
  auto put = [&](const std::string& text) {
    buf += text;
    written += static_cast<int64_t>(text.size());
    flush(false);
  };
  put("{\"info\": {\"description\": \"focalab bench json\", \"version\": \"1.0\", \"year\": "
      "2017}, \"licenses\": [{\"url\": \"http://creativecommons.org/licenses/by/2.0/\", "
      "\"id\": 1, \"name\": \"Attribution License\"}], \"images\": [");
  for (int64_t i = 0; i < images; ++i) {
    put(fmt::format("{}{{\"license\": {}, \"file_name\": \"{:012d}.jpg\", \"coco_url\": "
                    "\"http://images.cocodataset.org/train2017/{:012d}.jpg\", \"height\": {}, "
                    "\"width\": 640, \"date_captured\": \"2013-11-14 11:18:45\", \"flickr_url\": "
                    "\"http://farm4.staticflickr.com/3153/2970773875_164f0c0b83_z.jpg\", "
                    "\"id\": {}}}",
                    i ? ", " : "", 1 + i % 8, i + 1, i + 1, 360 + (i % 5) * 30, i + 1));
  }
  put("], \"annotations\": [");
  const int64_t target = mb * 1000 * 1000;
  for (int64_t a = 0; a < annotations; ++a) {
    const double per_ann = static_cast<double>(target - written - 8000) /
                           static_cast<double>(annotations - a);
    const int64_t points = std::max<int64_t>(3, static_cast<int64_t>((per_ann - 190) / 14));
    const double w = 4 + u(rng) * 300, h = 4 + u(rng) * 300;
    const double x = u(rng) * (640 - w), y = u(rng) * (360 - h);
    std::string poly;
    poly.reserve(static_cast<size_t>(points) * 15);
    for (int64_t p = 0; p < points; ++p) {
      const double t = 6.283185307179586 * static_cast<double>(p) / static_cast<double>(points);
      poly += fmt::format("{}{:.2f},{:.2f}", p ? "," : "", x + w * (0.5 + 0.5 * std::cos(t)),
                          y + h * (0.5 + 0.5 * std::sin(t)));
    }
    put(fmt::format("{}{{\"segmentation\": [[{}]], \"area\": {:.4f}, \"iscrowd\": 0, "
                    "\"image_id\": {}, \"bbox\": [{:.2f},{:.2f},{:.2f},{:.2f}], "
                    "\"category_id\": {}, \"id\": {}}}",
                    a ? ", " : "", poly, 0.78 * w * h,
                    1 + static_cast<int64_t>(u(rng) * static_cast<double>(images)) % images,
                    x, y, w, h, 1 + static_cast<int64_t>(u(rng) * 80), a + 1));
  }
  put("], \"categories\": [");
  for (int64_t k = 1; k <= 80; ++k) {
    put(fmt::format("{}{{\"supercategory\": \"thing\", \"id\": {}, \"name\": \"class{}\"}}",
                    k > 1 ? ", " : "", k, k));
  }
  put("]}");
  flush(true);

  if (std::fclose(f) != 0) {
    throw DataError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  }
  return written;
}

}  // namespace eval
}  // namespace focalab::harness
