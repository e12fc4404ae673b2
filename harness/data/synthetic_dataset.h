#pragma once
// focalab's built-in synthetic detection benchmark: colored shapes of up to six classes
// (rectangle, ellipse, triangle, cross, ring, diamond) — or, with data.class_colors = C > 1,
// up to 6 x C classes of shape x hue (class k: shape k mod 6 in hue floor(k / 6) of C evenly
// spaced hues, so that 80 classes as in COCO fit) — with varied sizes and aspect ratios on a
// cluttered, noisy background. Every image is a pure function of (data.seed, split, index), so the
// dataset needs no files and is identical for every trial and machine. Objects span roughly
// min_object_size..max_object_size pixels, i.e. several FPN levels; low-contrast background
// strokes and blobs make hard negatives.

#include <torch/types.h>

#include <mutex>
#include <string>
#include <vector>

#include "harness/config/trial_config.h"
#include "harness/data/dataset.h"

namespace focalab::harness {
inline namespace data {

class SyntheticDataset : public DetectionDataset {
 public:
  // REQUIRES: the config passed finalize_config().
  SyntheticDataset(const DataConfig& config, Split split);

  int64_t size() const override { return size_; }
  // Generated on the first call for an index; kept (up to data.cache_mb) and copied after that.
  // Thread-safe.
  Sample get(int64_t index) const override;
  // How many images are kept in memory now.
  int64_t kept_images() const;
  int64_t num_classes() const override { return config_.num_classes; }
  std::vector<std::string> class_names() const override {
    return class_names(num_classes(), config_.class_colors);
  }
  // "rectangle", ... (class_colors 1); "rectangle-h000", "ellipse-h000", ..., "rectangle-h030"
  // (shape and hue in degrees) when hues tell classes apart.
  static std::vector<std::string> class_names(int64_t num_classes, int64_t class_colors = 1);
  // Ground truth regenerated from the seed; area = box width x height, no crowd regions.
  CocoSummary evaluate(const std::vector<Detection>& detections,
                       int64_t bootstrap = 0) const override;

 private:
  Sample generate(int64_t index) const;

  DataConfig config_;
  Split split_;
  int64_t size_;
  // Images already generated (a trial reads each train image once an epoch; the noise alone
  // costs more per image than copying it): by index, an undefined image where none is kept.
  mutable std::mutex cache_mutex_;
  mutable std::vector<Sample> cache_;
  mutable int64_t cache_left_bytes_;
};

}  // namespace data
}  // namespace focalab::harness
