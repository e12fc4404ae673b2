#pragma once
// focalab's built-in synthetic detection benchmark: colored shapes of up to six classes
// (rectangle, ellipse, triangle, cross, ring, diamond) with varied sizes and aspect ratios on a
// cluttered, noisy background. Every image is a pure function of (data.seed, split, index), so the
// dataset needs no files and is identical for every trial and machine. Objects span roughly
// min_object_size..max_object_size pixels, i.e. several FPN levels; low-contrast background
// strokes and blobs make hard negatives.

#include <torch/types.h>

#include <string>
#include <vector>

#include "harness/trial_config.h"

namespace focalab::harness {

enum class Split { kTrain, kVal };
const char* split_name(Split split);

struct Sample {
  torch::Tensor image;    // [3, H, W] float in [0, 1]
  torch::Tensor boxes;    // [G, 4] float (x1, y1, x2, y2) pixels
  torch::Tensor classes;  // [G] int64 in [0, K)
  int64_t image_id = 0;
};

class SyntheticDataset {
 public:
  // REQUIRES: the config passed finalize_config().
  SyntheticDataset(const DataConfig& config, Split split);

  int64_t size() const { return size_; }
  Sample get(int64_t index) const;
  int64_t num_classes() const { return config_.num_classes; }
  static std::vector<std::string> class_names(int64_t num_classes);

 private:
  DataConfig config_;
  Split split_;
  int64_t size_;
};

// A batch of samples stacked for the model.
struct Batch {
  torch::Tensor images;                  // [N, 3, H, W]
  std::vector<torch::Tensor> boxes;      // N x [G_i, 4]
  std::vector<torch::Tensor> classes;    // N x [G_i]
  std::vector<int64_t> image_ids;
};
Batch collate(const std::vector<Sample>& samples);

}  // namespace focalab::harness
