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
#include "harness/util/json.h"

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
  std::string gt, dt;
  JsonWriter g([&gt](std::string_view piece) { gt += piece; });
  JsonWriter d([&dt](std::string_view piece) { dt += piece; });
  g.begin_object();
  g.key("images");
  g.begin_array();
  for (int64_t i = 0; i < images; ++i) {
    g.value({{"id", i + 1}, {"width", 640}, {"height", 480},
             {"file_name", fmt::format("{:012d}.jpg", i + 1)}});
  }
  g.end_array();
  g.key("categories");
  g.begin_array();
  for (const int64_t id : cat_ids) g.value({{"id", id}, {"name", fmt::format("class{}", id)}});
  g.end_array();
  g.key("annotations");
  g.begin_array();
  d.begin_array();
  int64_t n_gt = 0;  // also the last annotation id
  auto r2 = [](double v) { return json_rounded(v, 2); };
  for (int64_t i = 0; i < images; ++i) {
    const int64_t count = 1 + static_cast<int64_t>(u(rng) * 13.6);  // mean ~7.3 per image
    std::vector<std::pair<int64_t, std::array<double, 4>>> objects;
    for (int64_t j = 0; j < count; ++j) {
      const int64_t cat = cat_ids[static_cast<size_t>(u(rng) * 80) % 80];
      const auto b = box();
      objects.emplace_back(cat, b);
      const int crowd = u(rng) < 0.01 ? 1 : 0;
      g.value({{"id", ++n_gt},
               {"image_id", i + 1},
               {"category_id", cat},
               {"bbox", {r2(b[0]), r2(b[1]), r2(b[2]), r2(b[3])}},
               {"area", r2(0.7 * b[2] * b[3])},
               {"iscrowd", crowd},
               {"segmentation", Json::array({{json_rounded(b[0], 1), json_rounded(b[1], 1),
                                              json_rounded(b[2], 1), json_rounded(b[3], 1)}})}});
    }
    for (int64_t k = 0; k < dets_per_image; ++k) {
      int64_t cat;
      std::array<double, 4> b;
      if (u(rng) < 0.6) {
        const auto pick = static_cast<size_t>(u(rng) * static_cast<double>(objects.size()));
        const auto& [c, o] = objects[pick % objects.size()];
        cat = c;
        b = {o[0] + (u(rng) - 0.5) * 0.3 * o[2], o[1] + (u(rng) - 0.5) * 0.3 * o[3],
             o[2] * (0.8 + 0.4 * u(rng)), o[3] * (0.8 + 0.4 * u(rng))};
      } else {
        cat = cat_ids[static_cast<size_t>(u(rng) * 80) % 80];
        b = box();
      }
      d.value({{"image_id", i + 1},
               {"category_id", cat},
               {"bbox", {r2(b[0]), r2(b[1]), r2(b[2]), r2(b[3])}},
               {"score", json_rounded(u(rng), 5)}});
    }
  }
  g.end_array();
  g.end_object();
  d.end_array();
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
  auto put = [&](std::string_view text) {
    buf += text;
    written += static_cast<int64_t>(text.size());
    flush(false);
  };
  JsonWriter w([&](std::string_view piece) { put(piece); });
  w.begin_object();
  w.key("info");
  w.value({{"description", "focalab bench json"}, {"version", "1.0"}, {"year", 2017}});
  w.key("licenses");
  w.value(Json::array({{{"url", "http://creativecommons.org/licenses/by/2.0/"},
                        {"id", 1},
                        {"name", "Attribution License"}}}));
  w.key("images");
  w.begin_array();
  for (int64_t i = 0; i < images; ++i) {
    w.value({{"license", 1 + i % 8},
             {"file_name", fmt::format("{:012d}.jpg", i + 1)},
             {"coco_url", fmt::format("http://images.cocodataset.org/train2017/{:012d}.jpg", i + 1)},
             {"height", 360 + (i % 5) * 30},
             {"width", 640},
             {"date_captured", "2013-11-14 11:18:45"},
             {"flickr_url", "http://farm4.staticflickr.com/3153/2970773875_164f0c0b83_z.jpg"},
             {"id", i + 1}});
  }
  w.end_array();
  w.key("annotations");
  w.begin_array();
  const int64_t target = mb * 1000 * 1000;
  for (int64_t a = 0; a < annotations; ++a) {
    const double per_ann = static_cast<double>(target - written - 8000) /
                           static_cast<double>(annotations - a);
    const int64_t points = std::max<int64_t>(3, static_cast<int64_t>((per_ann - 190) / 14));
    const double w_box = 4 + u(rng) * 300, h_box = 4 + u(rng) * 300;
    const double x = u(rng) * (640 - w_box), y = u(rng) * (360 - h_box);
    Json poly = Json::array();
    for (int64_t p = 0; p < points; ++p) {
      const double t = 6.283185307179586 * static_cast<double>(p) / static_cast<double>(points);
      poly.push_back(json_rounded(x + w_box * (0.5 + 0.5 * std::cos(t)), 2));
      poly.push_back(json_rounded(y + h_box * (0.5 + 0.5 * std::sin(t)), 2));
    }
    const int64_t image_id = 1 + static_cast<int64_t>(u(rng) * static_cast<double>(images)) % images;
    const int64_t category_id = 1 + static_cast<int64_t>(u(rng) * 80);
    w.value({{"segmentation", Json::array({std::move(poly)})},
             {"area", json_rounded(0.78 * w_box * h_box, 4)},
             {"iscrowd", 0},
             {"image_id", image_id},
             {"bbox", {json_rounded(x, 2), json_rounded(y, 2), json_rounded(w_box, 2),
                       json_rounded(h_box, 2)}},
             {"category_id", category_id},
             {"id", a + 1}});
  }
  w.end_array();
  w.key("categories");
  w.begin_array();
  for (int64_t k = 1; k <= 80; ++k) {
    w.value({{"supercategory", "thing"}, {"id", k}, {"name", fmt::format("class{}", k)}});
  }
  w.end_array();
  w.end_object();
  flush(true);

  if (std::fclose(f) != 0) {
    throw DataError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  }
  return written;
}

}  // namespace eval
}  // namespace focalab::harness
