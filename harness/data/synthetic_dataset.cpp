#include "harness/data/synthetic_dataset.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "harness/util/splitmix.h"

#include <fmt/format.h>

namespace focalab::harness {
inline namespace data {

namespace {

// A small deterministic generator over splitmix64, seeded from (seed, split, index), whose output
// does not depend on the standard library's distributions.

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return state_ = splitmix64(state_); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int64_t integer(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double normal() {
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  uint64_t state_;
};

using Color = std::array<float, 3>;

Color hsv(double h, double s, double v) {
  const double c = v * s, hp = std::fmod(h, 1.0) * 6.0;
  const double x = c * (1 - std::fabs(std::fmod(hp, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  if (hp < 1) { r = c; g = x; } else if (hp < 2) { r = x; g = c; } else if (hp < 3) { g = c; b = x; }
  else if (hp < 4) { g = x; b = c; } else if (hp < 5) { r = x; b = c; } else { r = c; b = x; }
  const double m = v - c;
  return {static_cast<float>(r + m), static_cast<float>(g + m), static_cast<float>(b + m)};
}

// Is the normalized point (u, v) in [0, 1]^2 of the bounding box inside the class's shape?
bool inside(int64_t cls, double u, double v) {
  const double x = 2 * u - 1, y = 2 * v - 1;  // [-1, 1]
  switch (cls) {
    case 0: return true;                                         // rectangle
    case 1: return x * x + y * y <= 1;                           // ellipse
    case 2: return v >= std::fabs(x);                            // triangle, apex up
    case 3: return std::fabs(x) <= 1.0 / 3 || std::fabs(y) <= 1.0 / 3;  // cross
    case 4: { const double r = x * x + y * y; return r <= 1 && r >= 0.36; }  // ring
    case 5: return std::fabs(x) + std::fabs(y) <= 1;            // diamond
    // shapes of no class, for distractors
    case 6: return x <= -1.0 / 3 || y >= 1.0 / 3;               // L
    default: return std::sqrt(std::fabs(x)) + std::sqrt(std::fabs(y)) <= 1;  // astroid
  }
}

struct Canvas {
  int64_t size;
  std::vector<float> px;  // [3, H, W]
  float* at(int64_t c, int64_t y, int64_t x) { return &px[(c * size + y) * size + x]; }

  // Paints shape `cls` over the box (x1, y1, x2, y2) with `color`, blending by `opacity`.
  void paint(int64_t cls, double x1, double y1, double x2, double y2, const Color& color,
             float opacity = 1.f) {
    const int64_t xa = std::max<int64_t>(0, static_cast<int64_t>(std::floor(x1)));
    const int64_t xb = std::min<int64_t>(size, static_cast<int64_t>(std::ceil(x2)));
    const int64_t ya = std::max<int64_t>(0, static_cast<int64_t>(std::floor(y1)));
    const int64_t yb = std::min<int64_t>(size, static_cast<int64_t>(std::ceil(y2)));
    const double w = x2 - x1, h = y2 - y1;
    for (int64_t y = ya; y < yb; ++y) {
      const double v = (y + 0.5 - y1) / h;
      if (v < 0 || v > 1) continue;
      for (int64_t x = xa; x < xb; ++x) {
        const double u = (x + 0.5 - x1) / w;
        if (u < 0 || u > 1 || !inside(cls, u, v)) continue;
        for (int64_t c = 0; c < 3; ++c) {
          float* p = at(c, y, x);
          *p = (1 - opacity) * *p + opacity * color[static_cast<size_t>(c)];
        }
      }
    }
  }
};

double iou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double w = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
  const double h = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
  const double inter = w * h;
  const double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > 0 ? inter / uni : 0;
}

}  // namespace


std::vector<std::string> SyntheticDataset::class_names(int64_t num_classes,
                                                       int64_t class_colors) {
  static const std::vector<std::string> shapes = {"rectangle", "ellipse", "triangle",
                                                  "cross",     "ring",    "diamond"};
  if (class_colors <= 1) return {shapes.begin(), shapes.begin() + std::min<int64_t>(num_classes, 6)};
  std::vector<std::string> out;
  for (int64_t k = 0; k < num_classes; ++k) {
    out.push_back(fmt::format("{}-h{:03d}", shapes[static_cast<size_t>(k % 6)],
                              static_cast<int>(std::lround(360.0 * static_cast<double>(k / 6) /
                                                           static_cast<double>(class_colors)))));
  }
  return out;
}

SyntheticDataset::SyntheticDataset(const DataConfig& config, Split split)
    : config_(config),
      split_(split),
      size_(split == Split::kTrain ? config.train_images : config.val_images),
      cache_left_bytes_(config.cache_mb * (int64_t{1} << 20)) {
  if (cache_left_bytes_ > 0) cache_.resize(static_cast<size_t>(size_));
}

namespace {
Sample copy_of(const Sample& s) {
  Sample out = s;
  out.image = s.image.clone();
  out.boxes = s.boxes.clone();
  out.classes = s.classes.clone();
  out.crowd_boxes = s.crowd_boxes.clone();
  return out;
}
}  // namespace

Sample SyntheticDataset::get(int64_t index) const {
  TORCH_CHECK(index >= 0 && index < size_, "SyntheticDataset: index ", index, " out of [0, ",
              size_, ")");
  if (cache_.empty()) return generate(index);
  const auto i = static_cast<size_t>(index);
  {
    const std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_[i].image.defined()) return copy_of(cache_[i]);
  }
  Sample sample = generate(index);
  const int64_t bytes = sample.image.numel() * static_cast<int64_t>(sizeof(float));
  const std::lock_guard<std::mutex> lock(cache_mutex_);
  if (!cache_[i].image.defined() && bytes <= cache_left_bytes_) {
    cache_[i] = copy_of(sample);
    cache_left_bytes_ -= bytes;
  }
  return sample;
}

int64_t SyntheticDataset::kept_images() const {
  const std::lock_guard<std::mutex> lock(cache_mutex_);
  return std::count_if(cache_.begin(), cache_.end(),
                       [](const Sample& s) { return s.image.defined(); });
}

Sample SyntheticDataset::generate(int64_t index) const {
  const uint64_t split_salt = split_ == Split::kTrain ? 0x7472616eULL : 0x76616cULL;
  Rng rng(splitmix64(splitmix64(static_cast<uint64_t>(config_.seed)) ^ split_salt) ^
          splitmix64(static_cast<uint64_t>(index) + 1));
  const int64_t s = config_.image_size;
  Canvas canvas{s, std::vector<float>(static_cast<size_t>(3 * s * s))};

  // Background: a low-saturation color with a linear gradient.
  const Color bg0 = hsv(rng.uniform(), rng.uniform(0.0, 0.3), rng.uniform(0.25, 0.75));
  const Color bg1 = hsv(rng.uniform(), rng.uniform(0.0, 0.3), rng.uniform(0.25, 0.75));
  const double gdir = rng.uniform(0, 2 * M_PI);
  const double gx = std::cos(gdir), gy = std::sin(gdir);
  for (int64_t y = 0; y < s; ++y) {
    for (int64_t x = 0; x < s; ++x) {
      const double t = 0.5 + 0.5 * ((x / double(s) - 0.5) * gx + (y / double(s) - 0.5) * gy);
      for (int64_t c = 0; c < 3; ++c) {
        const size_t ci = static_cast<size_t>(c);
        *canvas.at(c, y, x) = static_cast<float>((1 - t) * bg0[ci] + t * bg1[ci]);
      }
    }
  }
  // Clutter: translucent blobs and thin strokes of any shape — object-like texture that belongs to
  // no class (hard negatives).
  const int64_t num_clutter = static_cast<int64_t>(std::round(config_.clutter * 24));
  for (int64_t i = 0; i < num_clutter; ++i) {
    const double w = rng.uniform(2, config_.max_object_size), h = rng.uniform(2, config_.max_object_size);
    const bool stroke = rng.uniform() < 0.5;
    const double sw = stroke ? std::max(1.5, w / 8) : w, sh = stroke ? h : std::max(2.0, h / 1.5);
    const double x1 = rng.uniform(-sw / 2, s - sw / 2), y1 = rng.uniform(-sh / 2, s - sh / 2);
    const Color col = hsv(rng.uniform(), rng.uniform(0, 0.8), rng.uniform(0.1, 0.9));
    canvas.paint(rng.uniform() < 0.5 ? 0 : 1, x1, y1, x1 + sw, y1 + sh, col,
                 static_cast<float>(rng.uniform(0.15, 0.45)));
  }
  // Objects: log-uniform sizes, limited overlap (IoU <= 0.3 with earlier objects).
  std::vector<float> boxes;
  std::vector<int64_t> classes;
  std::vector<std::array<double, 4>> placed;
  const int64_t num_objects = rng.integer(config_.min_objects, config_.max_objects);
  // Class weights (k + 1)^-imbalance; with imbalance 0 the draw is the uniform integer it always
  // was, so that default datasets stay bit-identical.
  std::vector<double> cdf;
  if (config_.class_imbalance > 0) {
    double total = 0;
    for (int64_t k = 0; k < config_.num_classes; ++k) {
      total += std::pow(static_cast<double>(k + 1), -config_.class_imbalance);
      cdf.push_back(total);
    }
    for (double& c : cdf) c /= total;
  }
  auto draw_class = [&]() -> int64_t {
    if (cdf.empty()) return rng.integer(0, config_.num_classes - 1);
    const double u = rng.uniform();
    return std::min<int64_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin(),
                             config_.num_classes - 1);
  };
  for (int64_t i = 0; i < num_objects; ++i) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int64_t cls = draw_class();
      const double side = std::exp(rng.uniform(std::log(config_.min_object_size),
                                               std::log(config_.max_object_size)));
      const double aspect = std::exp(rng.uniform(std::log(0.6), std::log(1.6)));  // h / w
      const double w = side / std::sqrt(aspect), h = side * std::sqrt(aspect);
      if (w > s || h > s) continue;
      const double x1 = rng.uniform(0, s - w), y1 = rng.uniform(0, s - h);
      const std::array<double, 4> box = {x1, y1, x1 + w, y1 + h};
      bool ok = true;
      for (const auto& p : placed) ok = ok && iou(p, box) <= config_.max_overlap;
      if (!ok) continue;
      // One hue per class group when hues tell classes apart (jitter: a sixth of the spacing),
      // any hue otherwise; the draws are the same in both cases, so that class_colors = 1 keeps
      // the data bit-identical to the shape-only benchmark.
      // Drawn value, saturation, hue: the order in which GCC evaluated the arguments of the
      // hsv(...) call this replaced, so that the data stays what it was.
      const double val = rng.uniform(0.55, 1.0);
      const double sat = rng.uniform(0.5, 1.0);
      const double hue = rng.uniform();
      Color col = hsv(hue, sat, val);
      int64_t shape = cls;
      if (config_.class_colors > 1) {
        const double n = static_cast<double>(config_.class_colors);
        shape = cls % 6;
        col = hsv(static_cast<double>(cls / 6) / n + (hue - 0.5) / (3 * n) + 1.0,
                  0.65 + 0.35 * (sat - 0.5) / 0.5, val);
      }
      canvas.paint(shape, box[0], box[1], box[2], box[3], col);
      placed.push_back(box);
      for (double v : box) boxes.push_back(static_cast<float>(v));
      classes.push_back(cls);
      break;
    }
  }
  // Distractors: saturated shapes like objects but of no class (the class shapes beyond
  // num_classes, an L and an astroid), kept off the objects (IoU <= 0.1) — hard negatives.
  std::vector<int64_t> distractor_shapes;
  for (int64_t k = config_.class_colors > 1 ? 6 : config_.num_classes; k < 8; ++k) {
    distractor_shapes.push_back(k);
  }
  for (int64_t i = 0; i < config_.distractors; ++i) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int64_t shape = distractor_shapes[static_cast<size_t>(
          rng.integer(0, static_cast<int64_t>(distractor_shapes.size()) - 1))];
      const double side = std::exp(rng.uniform(std::log(config_.min_object_size),
                                               std::log(config_.max_object_size)));
      const double aspect = std::exp(rng.uniform(std::log(0.6), std::log(1.6)));
      const double w = side / std::sqrt(aspect), h = side * std::sqrt(aspect);
      if (w > s || h > s) continue;
      const double x1 = rng.uniform(0, s - w), y1 = rng.uniform(0, s - h);
      const std::array<double, 4> box = {x1, y1, x1 + w, y1 + h};
      bool ok = true;
      for (const auto& p : placed) ok = ok && iou(p, box) <= 0.1;
      if (!ok) continue;
      const Color col = hsv(rng.uniform(), rng.uniform(0.5, 1.0), rng.uniform(0.55, 1.0));
      canvas.paint(shape, box[0], box[1], box[2], box[3], col);
      break;
    }
  }
  // Sensor noise.
  if (config_.noise > 0) {
    for (float& p : canvas.px) {
      p = std::clamp(static_cast<float>(p + config_.noise * rng.normal()), 0.f, 1.f);
    }
  }
  Sample sample;
  sample.image = torch::from_blob(canvas.px.data(), {3, s, s}, torch::kFloat).clone();
  sample.boxes = torch::tensor(boxes, torch::kFloat).view({-1, 4});
  sample.classes = torch::tensor(classes, torch::kLong);
  sample.crowd_boxes = torch::zeros({0, 4}, torch::kFloat);
  sample.image_id = index;
  sample.original_size = {s, s};
  return sample;
}

CocoSummary SyntheticDataset::evaluate(const std::vector<Detection>& detections,
                                       int64_t bootstrap) const {
  std::vector<GroundTruth> gts;
  std::vector<int64_t> image_ids;
  for (int64_t i = 0; i < size_; ++i) {
    const Sample s = get(i);
    image_ids.push_back(s.image_id);
    auto gb = s.boxes.contiguous();
    auto gc = s.classes.contiguous();
    for (int64_t g = 0; g < gb.size(0); ++g) {
      const float* b = gb.data_ptr<float>() + 4 * g;
      gts.push_back({s.image_id, gc.data_ptr<int64_t>()[g],
                     EvalBox::corners(b[0], b[1], b[2], b[3]),
                     static_cast<double>((b[2] - b[0]) * (b[3] - b[1]))});
    }
  }
  return evaluate_coco(image_ids, config_.num_classes, gts, detections, bootstrap);
}

}  // namespace data
}  // namespace focalab::harness
