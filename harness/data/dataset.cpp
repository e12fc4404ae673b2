#include "harness/data/dataset.h"

#include <torch/torch.h>

#include <algorithm>

#include "harness/data/coco_dataset.h"
#include "harness/data/synthetic_dataset.h"

namespace focalab::harness {
inline namespace data {

const char* split_name(Split split) { return split == Split::kTrain ? "train" : "val"; }

SampleTargets DetectionDataset::targets(int64_t index) const {
  const Sample s = get(index);
  return {s.boxes, s.classes, s.crowd_boxes, {s.image.size(1), s.image.size(2)}};
}

void flip_horizontal(Sample& sample) {
  const double w = static_cast<double>(sample.image.size(2));
  sample.image = sample.image.flip({2});
  auto flip_boxes = [w](const torch::Tensor& b) {
    if (!b.defined() || b.size(0) == 0) return b;
    return torch::stack({w - b.select(1, 2), b.select(1, 1), w - b.select(1, 0), b.select(1, 3)},
                        1);
  };
  sample.boxes = flip_boxes(sample.boxes);
  sample.crowd_boxes = flip_boxes(sample.crowd_boxes);
}

Batch collate(const std::vector<Sample>& samples) {
  Batch b;
  int64_t h = 0, w = 0;
  bool same = true;
  for (const auto& s : samples) {
    same = same && (samples.front().image.sizes() == s.image.sizes());
    h = std::max(h, s.image.size(1));
    w = std::max(w, s.image.size(2));
    b.boxes.push_back(s.boxes);
    b.classes.push_back(s.classes);
    b.crowd_boxes.push_back(s.crowd_boxes.defined() ? s.crowd_boxes
                                                    : torch::zeros({0, 4}, torch::kFloat));
    b.image_ids.push_back(s.image_id);
    b.image_sizes.emplace_back(s.image.size(1), s.image.size(2));
    b.original_sizes.push_back(s.original_size);
  }
  const int64_t hp = (h + 127) / 128 * 128, wp = (w + 127) / 128 * 128;
  if (same && hp == h && wp == w) {
    std::vector<torch::Tensor> images;
    for (const auto& s : samples) images.push_back(s.image);
    b.images = torch::stack(images);
    return b;
  }
  const auto n = static_cast<int64_t>(samples.size());
  b.images = torch::empty({n, 3, hp, wp}, torch::kFloat);
  // The padding is the ImageNet mean: 0 after the model's normalization.
  const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  for (int64_t i = 0; i < n; ++i) {
    const auto& img = samples[static_cast<size_t>(i)].image;
    const int64_t ih = img.size(1), iw = img.size(2);
    auto dst = b.images[i];
    dst.narrow(1, 0, ih).narrow(2, 0, iw).copy_(img);
    if (iw < wp) {
      auto right = dst.narrow(1, 0, ih).narrow(2, iw, wp - iw);
      right.copy_(mean.expand_as(right));
    }
    if (ih < hp) {
      auto bottom = dst.narrow(1, ih, hp - ih);
      bottom.copy_(mean.expand_as(bottom));
    }
  }
  return b;
}

std::shared_ptr<const DetectionDataset> open_dataset(const DataConfig& config, Split split) {
  if (config.kind == DataKind::kCoco) return open_coco_dataset(config, split);
  return std::make_shared<SyntheticDataset>(config, split);
}

}  // namespace data
}  // namespace focalab::harness
