#pragma once
// The datasets the trainer reads: one interface over focalab's synthetic benchmark and COCO-format
// datasets (instances JSON + image folder). A sample is an image at training scale with its boxes
// in the same pixels; batches are padded to a multiple of 128 with the ImageNet mean (0 after the
// model's normalization), as Detectron pads. Evaluation maps detections back to the original
// image and scores them against the dataset's own ground truth.

#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness/config/trial_config.h"
#include "harness/eval/coco_eval.h"

namespace focalab::harness {
inline namespace data {

enum class Split { kTrain, kVal };
const char* split_name(Split split);

struct Sample {
  torch::Tensor image;        // [3, H, W] float in [0, 1], at training scale
  torch::Tensor boxes;        // [G, 4] float (x1, y1, x2, y2) pixels of `image`
  torch::Tensor classes;      // [G] int64 in [0, K)
  torch::Tensor crowd_boxes;  // [C, 4] float: ignore regions (COCO iscrowd), pixels of `image`
  int64_t image_id = 0;
  std::pair<int64_t, int64_t> original_size{0, 0};  // (height, width) of the image as stored
};

// Mirrors a sample left-right: the image and every box (x1' = W - x2, x2' = W - x1).
void flip_horizontal(Sample& sample);

// A batch of samples padded to one size for the model.
struct Batch {
  torch::Tensor images;                  // [N, 3, H, W], H and W multiples of 128
  std::vector<torch::Tensor> boxes;      // N x [G_i, 4]
  std::vector<torch::Tensor> classes;    // N x [G_i]
  std::vector<torch::Tensor> crowd_boxes;  // N x [C_i, 4]
  std::vector<int64_t> image_ids;
  std::vector<std::pair<int64_t, int64_t>> image_sizes;     // (h, w) before padding
  std::vector<std::pair<int64_t, int64_t>> original_sizes;  // (h, w) as stored
};
// Stacks the samples; images of different sizes are padded (bottom and right) with the ImageNet
// mean to the largest size rounded up to a multiple of 128.
Batch collate(const std::vector<Sample>& samples);

// What a sample's anchors are matched against, without its pixels.
struct SampleTargets {
  torch::Tensor boxes;        // [G, 4] at training scale
  torch::Tensor classes;      // [G] int64
  torch::Tensor crowd_boxes;  // [C, 4]
  std::pair<int64_t, int64_t> size{0, 0};  // (height, width) at training scale, before padding
};

class DetectionDataset {
 public:
  virtual ~DetectionDataset() = default;
  virtual int64_t size() const = 0;
  // Sample `index` in [0, size()). Safe to call from several threads at once.
  virtual Sample get(int64_t index) const = 0;
  // The targets of sample `index` (`focalab data stats`). Default: from get(); COCO datasets
  // answer from their annotations and image sizes, without decoding.
  virtual SampleTargets targets(int64_t index) const;
  virtual int64_t num_classes() const = 0;
  virtual std::vector<std::string> class_names() const = 0;
  // COCO AP of `detections` (contiguous class labels, original-image pixels) over every image of
  // this dataset, with pycocotools' semantics; with `bootstrap` replicates over the images
  // (evaluate_coco).
  virtual CocoSummary evaluate(const std::vector<Detection>& detections,
                               int64_t bootstrap = 0) const = 0;
};

// The dataset of `config.kind` and `split`. COCO datasets are read, checked and cached once per
// process (the same files serve every trial of a sweep). REQUIRES: finalize_config() passed.
// Throws DataError for unreadable data (and, with data.on_bad error, for the first bad image or
// annotation).
std::shared_ptr<const DetectionDataset> open_dataset(const DataConfig& config, Split split);

}  // namespace data
}  // namespace focalab::harness
