#include "harness/data/coco_dataset_tools.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "harness/data/image_io.h"
#include "harness/data/synthetic_dataset.h"
#include "harness/eval/coco_json.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"
#include "harness/util/paths.h"

namespace focalab::harness {
inline namespace data {

namespace fs = std::filesystem;

SynthExport write_synthetic_coco(const harness::DataConfig& data, const std::string& out,
                                 int64_t max_images) {
  if (data.kind != DataKind::kSynthetic) {
    throw UsageError(fmt::format("data synth: data.kind is '{}'; only the synthetic dataset can "
                                 "be generated", name_of(data.kind)));
  }
  SynthExport result;
  std::error_code ec;
  fs::create_directories(fs::path(out) / "annotations", ec);
  if (ec) throw DataError(fmt::format("{}: cannot create ({})", out, ec.message()));
  const auto names = harness::SyntheticDataset::class_names(data.num_classes, data.class_colors);
  for (auto split : {harness::Split::kTrain, harness::Split::kVal}) {
    const std::string split_name = harness::split_name(split);
    const fs::path image_dir = fs::path(out) / split_name;
    fs::create_directories(image_dir, ec);
    if (ec) throw DataError(fmt::format("{}: cannot create ({})", image_dir.string(), ec.message()));
    const harness::SyntheticDataset dataset(data, split);
    int64_t n = dataset.size();
    if (max_images > 0) n = std::min(n, max_images);
    Json images = Json::array(), annotations = Json::array();
    for (int64_t i = 0; i < n; ++i) {
      const harness::Sample s = dataset.get(i);
      const std::string file = fmt::format("{:06d}.png", i + 1);
      write_png((image_dir / file).string(), s.image);
      images.push_back({{"id", i + 1}, {"file_name", file}, {"width", s.image.size(2)},
                        {"height", s.image.size(1)}});
      auto boxes = s.boxes.to(torch::kDouble).contiguous();
      auto classes = s.classes.to(torch::kLong).contiguous();
      for (int64_t g = 0; g < boxes.size(0); ++g) {
        const double* b = boxes.data_ptr<double>() + 4 * g;
        const double w = b[2] - b[0], h = b[3] - b[1];
        annotations.push_back(
            {{"id", static_cast<int64_t>(annotations.size()) + 1},
             {"image_id", i + 1},
             {"category_id", classes.data_ptr<int64_t>()[g] + 1},
             {"bbox", {json_number(b[0]), json_number(b[1]), json_number(w), json_number(h)}},
             {"area", json_number(w * h)},
             {"iscrowd", 0}});
      }
    }
    Json categories = Json::array();
    for (size_t k = 0; k < names.size(); ++k) {
      categories.push_back({{"id", k + 1}, {"name", names[k]}, {"supercategory", "shape"}});
    }
    // one image, category and annotation a line, as COCO files are usually laid out
    std::string text;
    JsonWriter w([&text](std::string_view piece) { text += piece; });
    w.begin_object();
    w.key("info");
    w.value({{"description", fmt::format("focalab synthetic dataset, seed {}", data.seed)}});
    for (const auto& [name, list] : {std::pair<const char*, const Json*>{"images", &images},
                                     {"categories", &categories},
                                     {"annotations", &annotations}}) {
      w.key(name);
      w.begin_array(true);
      for (const auto& item : *list) w.value(item);
      w.end_array();
    }
    w.end_object();
    w.newline();
    const std::string json_path =
        (fs::path(out) / "annotations" / fmt::format("instances_{}.json", split_name)).string();
    write_file_atomically(json_path, text);
    result.images += n;
    result.annotations += static_cast<int64_t>(annotations.size());
    result.files.push_back(json_path);
  }
  return result;
}

DatasetCheck check_coco_dataset(const std::string& annotations, const std::string& images) {
  const CocoDataset ds = read_coco_dataset(annotations);
  DatasetCheck out;
  std::vector<std::string> problems;
  auto problem = [&](std::string text) {
    if (out.problems == 0) out.first_problem = text;
    ++out.problems;
    if (problems.size() < 20) problems.push_back(std::move(text));
  };
  std::unordered_map<int64_t, const CocoImage*> image_by_id;
  for (const auto& im : ds.images) {
    if (!image_by_id.emplace(im.id, &im).second) problem(fmt::format("image id {} repeated", im.id));
  }
  std::map<int64_t, std::string> category_name;
  for (const auto& c : ds.categories) {
    if (!category_name.emplace(c.id, c.name).second) {
      problem(fmt::format("category id {} repeated", c.id));
    }
  }
  int64_t missing = 0, unreadable = 0;
  for (const auto& im : ds.images) {
    const fs::path p = fs::path(images) / im.file_name;
    try {
      const auto [h, w] = probe_image(p.string());
      if ((im.height && im.height != h) || (im.width && im.width != w)) {
        problem(fmt::format("image {} ({}): file is {}x{}, the JSON says {}x{}", im.id,
                            im.file_name, w, h, im.width, im.height));
      }
    } catch (const DataError& e) {
      std::error_code ec;
      if (fs::exists(p, ec)) {
        ++unreadable;
        problem(e.what());
      } else {
        ++missing;
        problem(fmt::format("image {}: {} is missing", im.id, p.string()));
      }
    }
  }
  std::map<int64_t, int64_t> per_category;
  std::set<int64_t> ann_ids, annotated_images;
  int64_t small = 0, medium = 0, large = 0, crowd = 0, degenerate = 0, outside = 0;
  for (const auto& a : ds.annotations) {
    if (!ann_ids.insert(a.id).second) problem(fmt::format("annotation id {} repeated", a.id));
    auto im = image_by_id.find(a.image_id);
    if (im == image_by_id.end()) {
      problem(fmt::format("annotation {}: image_id {} is not in images", a.id, a.image_id));
      continue;
    }
    if (!category_name.count(a.category_id)) {
      problem(fmt::format("annotation {}: category_id {} is not in categories", a.id,
                          a.category_id));
      continue;
    }
    annotated_images.insert(a.image_id);
    ++per_category[a.category_id];
    if (a.iscrowd) ++crowd;
    const auto check = check_box(a, im->second->width, im->second->height);
    if (check != BoxCheck::kOk) {
      ++(check == BoxCheck::kNoArea ? degenerate : outside);
      problem(box_problem(a, check, im->second->width, im->second->height));
    }
    if (a.area < 32 * 32) ++small;
    else if (a.area < 96 * 96) ++medium;
    else ++large;
  }
  const int64_t n_ann = static_cast<int64_t>(ds.annotations.size());
  std::string r = fmt::format("{}\n  images       {} ({} without annotations, {} missing, {} "
                              "unreadable)\n  categories   {}\n  annotations  {} ({} crowd, {} "
                              "with no area, {} outside the image)\n",
                              annotations, ds.images.size(),
                              static_cast<int64_t>(ds.images.size()) -
                                  static_cast<int64_t>(annotated_images.size()),
                              missing, unreadable, ds.categories.size(), n_ann, crowd, degenerate,
                              outside);
  const double total = std::max<double>(1.0, static_cast<double>(small + medium + large));
  r += fmt::format("  sizes (COCO, by area)  small < 32²: {} ({:.1f}%), medium: {} ({:.1f}%), "
                   "large >= 96²: {} ({:.1f}%)\n",
                   small, 100.0 * static_cast<double>(small) / total, medium,
                   100.0 * static_cast<double>(medium) / total, large,
                   100.0 * static_cast<double>(large) / total);
  r += "  boxes per category:\n";
  for (const auto& [id, name] : category_name) {
    const int64_t count = per_category.count(id) ? per_category[id] : 0;
    r += fmt::format("    {:>5}  {:<24} {:>8}\n", id, name, count);
  }
  if (out.problems) {
    r += fmt::format("{} problem(s){}:\n", out.problems,
                     out.problems > 20 ? " (the first 20)" : "");
    for (const auto& p : problems) r += "  " + p + "\n";
  } else {
    r += "no problems found\n";
  }
  out.report = r;
  return out;
}

}  // namespace data
}  // namespace focalab::harness
