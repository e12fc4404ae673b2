#include "harness/eval/coco_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "harness/util/errors.h"
#include "harness/util/json.h"

namespace focalab::harness {
inline namespace eval {

CocoFileEval evaluate_coco_files(const std::string& gt_path, const std::string& dt_path) {
  return evaluate_coco_data(read_coco_dataset(gt_path), read_coco_results(dt_path), gt_path,
                            dt_path);
}

CocoFileEval evaluate_coco_data(const CocoDataset& gt, const std::vector<CocoResult>& dt,
                                const std::string& gt_path, const std::string& dt_path,
                                int64_t bootstrap) {
  CocoFileEval out;

  // Categories: sorted ids -> contiguous index.
  out.categories = gt.categories;
  std::stable_sort(out.categories.begin(), out.categories.end(),
            [](const CocoCategory& a, const CocoCategory& b) { return a.id < b.id; });
  // a repeated category id counts once (COCOeval: np.unique(catIds))
  out.categories.erase(std::unique(out.categories.begin(), out.categories.end(),
                                   [](const CocoCategory& a, const CocoCategory& b) {
                                     return a.id == b.id;
                                   }),
                       out.categories.end());
  if (out.categories.size() > 100000) {
    throw DataError(fmt::format("{}: {} categories (allowed: at most 100000)", gt_path,
                                out.categories.size()));
  }
  std::unordered_map<int64_t, int64_t> category_index;
  for (size_t k = 0; k < out.categories.size(); ++k) {
    category_index.emplace(out.categories[k].id, static_cast<int64_t>(k));
  }
  std::set<int64_t> image_set;
  for (const auto& im : gt.images) image_set.insert(im.id);
  const std::vector<int64_t> image_ids(image_set.begin(), image_set.end());
  out.num_images = static_cast<int64_t>(image_ids.size());

  // GTs in COCOeval's order: images by increasing id, each image's annotations in file order,
  // every reference resolved through the id (the last annotation with that id wins).
  std::unordered_map<int64_t, size_t> last_with_id;
  std::map<int64_t, std::vector<size_t>> by_image;
  for (size_t i = 0; i < gt.annotations.size(); ++i) {
    last_with_id[gt.annotations[i].id] = i;
    by_image[gt.annotations[i].image_id].push_back(i);
  }
  std::vector<harness::GroundTruth> gts;
  for (const auto& [image, list] : by_image) {
    if (!image_set.count(image)) continue;
    for (size_t i : list) {
      if (!category_index.count(gt.annotations[i].category_id)) continue;
      const CocoAnnotation& a = gt.annotations[last_with_id[gt.annotations[i].id]];
      auto k = category_index.find(a.category_id);
      if (k == category_index.end()) continue;
      gts.push_back({a.image_id, k->second, {a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3]},
                     a.area, a.iscrowd, a.id});
    }
  }
  out.num_annotations = static_cast<int64_t>(gts.size());

  std::vector<harness::Detection> dts;
  dts.reserve(dt.size());
  for (size_t i = 0; i < dt.size(); ++i) {
    const auto& r = dt[i];
    if (!image_set.count(r.image_id)) {
      throw DataError(fmt::format("{}: [{}].image_id {} is not an image of {} (results must "
                                  "name images of the ground truth)", dt_path, i, r.image_id,
                                  gt_path));
    }
    auto k = category_index.find(r.category_id);
    if (k == category_index.end()) {
      ++out.detections_unknown_category;
      continue;
    }
    dts.push_back({r.image_id, k->second, {r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3]}, r.score});
  }
  out.num_detections = static_cast<int64_t>(dts.size());
  out.summary = harness::evaluate_coco(image_ids, static_cast<int64_t>(out.categories.size()),
                                       gts, dts, bootstrap);
  return out;
}

std::string summary_text(const harness::CocoSummary& summary) {
  struct Line {
    bool ap;
    const char* iou;
    const char* area;
    int max_dets;
  };
  static const Line kLines[12] = {
      {true, "0.50:0.95", "all", 100},   {true, "0.50", "all", 100},
      {true, "0.75", "all", 100},        {true, "0.50:0.95", "small", 100},
      {true, "0.50:0.95", "medium", 100}, {true, "0.50:0.95", "large", 100},
      {false, "0.50:0.95", "all", 1},    {false, "0.50:0.95", "all", 10},
      {false, "0.50:0.95", "all", 100},  {false, "0.50:0.95", "small", 100},
      {false, "0.50:0.95", "medium", 100}, {false, "0.50:0.95", "large", 100}};
  std::string out;
  for (size_t i = 0; i < 12; ++i) {
    const Line& l = kLines[i];
    // pycocotools: ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'
    out += fmt::format(" {:<18} {} @[ IoU={:<9} | area={:>6} | maxDets={:>3} ] = {:0.3f}\n",
                       l.ap ? "Average Precision" : "Average Recall", l.ap ? "(AP)" : "(AR)",
                       l.iou, l.area, l.max_dets, summary.stats[i]);
  }
  return out;
}

std::string summary_json(const CocoFileEval& eval) {
  Json out = Json::object();
  for (size_t i = 0; i < 12; ++i) {
    out[harness::CocoSummary::kNames[i]] = json_number(eval.summary.stats[i]);
  }
  Json& per_class = out["per_class"] = Json::array();
  for (size_t k = 0; k < eval.categories.size(); ++k) {
    per_class.push_back({{"category_id", eval.categories[k].id},
                         {"name", eval.categories[k].name},
                         {"AP", json_number(eval.summary.class_ap[k])},
                         {"AP50", json_number(eval.summary.class_ap50[k])}});
  }
  return pretty_json(out);
}

}  // namespace eval
}  // namespace focalab::harness
