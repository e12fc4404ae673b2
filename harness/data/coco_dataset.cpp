#include "harness/data/coco_dataset.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "harness/data/image_io.h"
#include "harness/eval/coco_files.h"
#include "harness/eval/coco_json.h"
#include "harness/util/errors.h"
#include "models/transform.h"

namespace focalab::harness {
inline namespace data {

namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string path;
  int64_t image_id = 0;
  int64_t height = 0, width = 0;
  std::vector<float> boxes;  // x1, y1, x2, y2 per box, image pixels
  std::vector<int64_t> labels;
  std::vector<float> crowd;  // x1, y1, x2, y2 per crowd region
};

// Bad-data policy: skip (count by reason, remember the first few ids) or throw.
class BadData {
 public:
  BadData(std::string file, bool skip) : file_(std::move(file)), skip_(skip) {}

  void report(const std::string& reason, const std::string& what) {
    if (!skip_) {
      throw DataError(fmt::format("{}: {} (data.on_bad is error; with data.on_bad: skip such "
                                  "cases are skipped and counted)",
                                  file_, what));
    }
    auto& r = reasons_[reason];
    if (r.count++ < 3) r.examples.push_back(what);
  }

  std::string summary() const {
    std::string out;
    for (const auto& [reason, r] : reasons_) {
      out += fmt::format("\n  skipped {} {}, e.g. {}", r.count, reason,
                         fmt::join(r.examples, "; "));
    }
    return out;
  }

 private:
  struct Reason {
    int64_t count = 0;
    std::vector<std::string> examples;
  };
  std::string file_;
  bool skip_;
  std::map<std::string, Reason> reasons_;
};

class CocoDetectionDataset : public DetectionDataset {
 public:
  CocoDetectionDataset(const DataConfig& config, Split split);

  int64_t size() const override { return static_cast<int64_t>(entries_.size()); }
  Sample get(int64_t index) const override;
  // From the annotations and the image sizes read when the dataset opened: no decoding.
  SampleTargets targets(int64_t index) const override;
  int64_t num_classes() const override { return static_cast<int64_t>(categories_.size()); }
  std::vector<std::string> class_names() const override {
    std::vector<std::string> out;
    for (const auto& c : categories_) out.push_back(c.name);
    return out;
  }
  CocoSummary evaluate(const std::vector<Detection>& detections,
                       int64_t bootstrap = 0) const override;

 private:
  Sample load(const Entry& e) const;

  std::string annotations_;
  Split split_;
  bool skip_bad_;
  int64_t min_size_, max_size_;
  std::vector<CocoCategory> categories_;  // increasing id: label k is categories_[k]
  std::vector<Entry> entries_;
  CocoDataset ground_truth_;  // the usable images and their annotations (crowd included)
  mutable std::atomic<int64_t> decode_failures_{0};
};

CocoDetectionDataset::CocoDetectionDataset(const DataConfig& config, Split split)
    : annotations_(config.resolve(split == Split::kTrain ? config.train_annotations
                                                         : config.val_annotations)),
      split_(split),
      skip_bad_(config.on_bad == OnBad::kSkip),
      min_size_(config.min_size),
      max_size_(config.max_size) {
  const std::string images_dir =
      config.resolve(split == Split::kTrain ? config.train_image_dir : config.val_image_dir);
  const bool train = split == Split::kTrain;
  CocoDataset ds = read_coco_dataset(annotations_);
  BadData bad(annotations_, skip_bad_);

  // Categories in increasing id order; a repeated id keeps its first entry.
  std::vector<CocoCategory> cats = ds.categories;
  std::stable_sort(cats.begin(), cats.end(),
                   [](const CocoCategory& a, const CocoCategory& b) { return a.id < b.id; });
  std::unordered_map<int64_t, int64_t> label_of;
  for (const auto& c : cats) {
    if (!label_of.emplace(c.id, static_cast<int64_t>(categories_.size())).second) {
      bad.report("repeated category ids", fmt::format("category id {} repeated", c.id));
      continue;
    }
    categories_.push_back(c);
  }
  if (categories_.empty()) {
    throw DataError(fmt::format("{}: categories: the list is empty (at least one category "
                                "is needed to train a detector)", annotations_));
  }

  // The pre-check: every image's header and completeness (a JPEG's end-of-image marker, a PNG's
  // chunks up to IEND; probe_image), read in parallel, before any trial is registered in the
  // results database (run_sweep opens the datasets first) or trains. Nothing is decoded: for
  // COCO 2017 train (118,287 JPEGs) it reads the first page and the last 4 KiB of each file,
  // about 5 s on one core from the page cache, and costs about two random reads per file on a
  // cold disk. With data.on_bad: error the first bad image or annotation below stops the run
  // with one line naming the file; with skip it is left out and counted.
  const auto n_images = static_cast<int64_t>(ds.images.size());
  std::vector<std::pair<int64_t, int64_t>> sizes(ds.images.size(), {0, 0});
  std::vector<std::string> errors(ds.images.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < n_images; ++i) {
    const auto& im = ds.images[static_cast<size_t>(i)];
    try {
      sizes[static_cast<size_t>(i)] = probe_image((fs::path(images_dir) / im.file_name).string());
    } catch (const std::exception& e) {
      errors[static_cast<size_t>(i)] = e.what();
    }
  }
  std::unordered_map<int64_t, size_t> entry_of_image;  // image id -> index in `entries`
  std::vector<Entry> entries;
  std::unordered_set<int64_t> seen_images;
  for (size_t i = 0; i < ds.images.size(); ++i) {
    const auto& im = ds.images[i];
    if (!seen_images.insert(im.id).second) {
      bad.report("repeated image ids", fmt::format("image id {} repeated", im.id));
      continue;
    }
    const std::string path = (fs::path(images_dir) / im.file_name).string();
    if (!errors[i].empty()) {
      std::error_code ec;
      const bool missing = !fs::exists(path, ec);
      bad.report(missing ? "missing images" : "unreadable images",
                 missing ? fmt::format("image {}: {} is missing", im.id, path)
                         : fmt::format("image {}: {}", im.id, errors[i]));
      continue;
    }
    const auto [h, w] = sizes[i];
    if ((im.height && im.height != h) || (im.width && im.width != w)) {
      bad.report("images whose size differs from the JSON",
                 fmt::format("image {}: {} is {}x{}, the JSON says {}x{}", im.id, path, w, h,
                             im.width, im.height));
      continue;
    }
    entry_of_image.emplace(im.id, entries.size());
    Entry e;
    e.path = path;
    e.image_id = im.id;
    e.height = h;
    e.width = w;
    entries.push_back(std::move(e));
  }

  std::unordered_set<int64_t> seen_annotations;
  std::vector<CocoAnnotation> kept_annotations;
  int64_t boxes = 0, crowd = 0;
  for (const auto& a : ds.annotations) {
    if (!seen_annotations.insert(a.id).second) {
      bad.report("repeated annotation ids", fmt::format("annotation id {} repeated", a.id));
      continue;
    }
    if (!seen_images.count(a.image_id)) {
      bad.report("annotations of unknown images",
                 fmt::format("annotation {}: image_id {} is not in images", a.id, a.image_id));
      continue;
    }
    const auto label = label_of.find(a.category_id);
    if (label == label_of.end()) {
      bad.report("annotations of unknown categories",
                 fmt::format("annotation {}: category_id {} is not in categories", a.id,
                             a.category_id));
      continue;
    }
    const auto it = entry_of_image.find(a.image_id);
    if (it == entry_of_image.end()) continue;  // its image was skipped (reported above)
    Entry& e = entries[it->second];
    const auto check = check_box(a, e.width, e.height);
    if (check != BoxCheck::kOk) {
      bad.report(check == BoxCheck::kNoArea ? "boxes with zero or negative size"
                                            : "boxes outside the image",
                 box_problem(a, check, e.width, e.height));
      continue;
    }
    const auto& b = a.bbox;
    const double W = static_cast<double>(e.width), H = static_cast<double>(e.height);
    const float x1 = static_cast<float>(std::clamp(b[0], 0.0, W));
    const float y1 = static_cast<float>(std::clamp(b[1], 0.0, H));
    const float x2 = static_cast<float>(std::clamp(b[0] + b[2], 0.0, W));
    const float y2 = static_cast<float>(std::clamp(b[1] + b[3], 0.0, H));
    if (!(x2 > x1 && y2 > y1)) {
      bad.report("boxes with zero or negative size",
                 fmt::format("annotation {}: bbox [{}, {}, {}, {}] has no area inside the image",
                             a.id, b[0], b[1], b[2], b[3]));
      continue;
    }
    kept_annotations.push_back(a);
    if (a.iscrowd) {
      e.crowd.insert(e.crowd.end(), {x1, y1, x2, y2});
      ++crowd;
    } else {
      e.boxes.insert(e.boxes.end(), {x1, y1, x2, y2});
      e.labels.push_back(label->second);
      ++boxes;
    }
  }

  int64_t dropped_empty = 0;
  std::unordered_set<int64_t> kept_images;
  for (auto& e : entries) {
    if (train && !config.keep_empty && e.labels.empty()) {
      ++dropped_empty;
      continue;
    }
    kept_images.insert(e.image_id);
    entries_.push_back(std::move(e));
  }
  if (entries_.empty()) {
    throw DataError(fmt::format(
        "{}: no usable images ({} in the file{}{})", annotations_, ds.images.size(),
        dropped_empty ? fmt::format(", {} without annotations dropped (data.keep_empty)",
                                    dropped_empty)
                      : "",
        bad.summary()));
  }
  std::unordered_set<int64_t> added;  // a repeated image id is kept once
  for (const auto& im : ds.images) {
    if (kept_images.count(im.id) && added.insert(im.id).second) ground_truth_.images.push_back(im);
  }
  ground_truth_.categories = categories_;
  for (const auto& a : kept_annotations) {
    if (kept_images.count(a.image_id)) ground_truth_.annotations.push_back(a);
  }
  fmt::print(stderr, "data {} {}: {} images, {} boxes ({} crowd regions), {} categories{}{}\n",
             split_name(split), annotations_, entries_.size(), boxes, crowd, categories_.size(),
             dropped_empty ? fmt::format("; {} images without annotations left out "
                                         "(data.keep_empty: false)", dropped_empty)
                           : "",
             bad.summary());
}

Sample CocoDetectionDataset::load(const Entry& e) const {
  Sample s;
  const models::ImageSize original{e.height, e.width};
  torch::Tensor image;
  try {
    image = read_image(e.path);
  } catch (const DataError&) {
    if (!skip_bad_ || split_ == Split::kTrain) throw;
    // val with data.on_bad skip: a blank image (no detections; its objects count as missed)
    if (decode_failures_.fetch_add(1) < 10) {
      fmt::print(stderr, "warning: {}: cannot decode; evaluated as a blank image\n", e.path);
    }
    image = torch::full({3, e.height, e.width}, 0.5f);
  }
  if (image.size(1) != e.height || image.size(2) != e.width) {
    throw DataError(fmt::format("{}: image is {}x{} now, {}x{} when the dataset was read", e.path,
                                image.size(2), image.size(1), e.width, e.height));
  }
  s.image = models::resize_image(image, min_size_, max_size_);
  const models::ImageSize resized{s.image.size(1), s.image.size(2)};
  auto to_tensor = [&](const std::vector<float>& v) {
    auto t = torch::tensor(v, torch::kFloat).view({-1, 4});
    return t.size(0) ? models::resize_boxes(t, original, resized) : t;
  };
  s.boxes = to_tensor(e.boxes);
  s.classes = torch::tensor(e.labels, torch::kLong);
  s.crowd_boxes = to_tensor(e.crowd);
  s.image_id = e.image_id;
  s.original_size = original;
  return s;
}

SampleTargets CocoDetectionDataset::targets(int64_t index) const {
  const Entry& e = entries_[static_cast<size_t>(index)];
  const models::ImageSize original{e.height, e.width};
  const models::ImageSize resized = models::resized_size(original, min_size_, max_size_).first;
  auto to_tensor = [&](const std::vector<float>& v) {
    auto t = torch::tensor(v, torch::kFloat).view({-1, 4});
    return t.size(0) ? models::resize_boxes(t, original, resized) : t;
  };
  return {to_tensor(e.boxes), torch::tensor(e.labels, torch::kLong), to_tensor(e.crowd), resized};
}

Sample CocoDetectionDataset::get(int64_t index) const {
  // A train image that cannot be decoded is replaced by the next one (data.on_bad: skip).
  const int64_t n = size();
  for (int64_t attempt = 0; attempt < std::min<int64_t>(n, 16); ++attempt) {
    const Entry& e = entries_[static_cast<size_t>((index + attempt) % n)];
    try {
      return load(e);
    } catch (const DataError& err) {
      if (!skip_bad_) {
        throw DataError(fmt::format("{} (image {} of {}; data.on_bad is error)", err.what(),
                                    e.image_id, annotations_));
      }
      if (decode_failures_.fetch_add(1) < 10) {
        fmt::print(stderr, "warning: skipped: {}\n", err.what());
      }
    }
  }
  throw DataError(fmt::format("{}: 16 images in a row from index {} cannot be decoded",
                              annotations_, index));
}

CocoSummary CocoDetectionDataset::evaluate(const std::vector<Detection>& detections,
                                           int64_t bootstrap) const {
  std::vector<CocoResult> results;
  results.reserve(detections.size());
  for (const auto& d : detections) {
    results.push_back({d.image_id, categories_[static_cast<size_t>(d.category)].id,
                       {d.box.x, d.box.y, d.box.w, d.box.h}, d.score});
  }
  return evaluate_coco_data(ground_truth_, results, annotations_, "detections",
                            bootstrap).summary;
}

}  // namespace

std::shared_ptr<const DetectionDataset> open_coco_dataset(const DataConfig& config, Split split) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const DetectionDataset>> cache;
  const std::string key =
      split == Split::kTrain
          ? fmt::format("train\n{}\n{}\n{}", config.resolve(config.train_annotations),
                        config.resolve(config.train_image_dir), config.keep_empty)
          : fmt::format("val\n{}\n{}", config.resolve(config.val_annotations),
                        config.resolve(config.val_image_dir));
  const std::string full_key = fmt::format("{}\n{}\n{}\n{}", key, name_of(config.on_bad), config.min_size,
                                           config.max_size);
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[full_key];
  if (!slot) slot = std::make_shared<CocoDetectionDataset>(config, split);
  return slot;
}

}  // namespace data
}  // namespace focalab::harness
