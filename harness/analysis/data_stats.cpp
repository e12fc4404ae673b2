#include "harness/analysis/data_stats.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "harness/data/dataset.h"
#include "harness/train/trainer.h"
#include "models/anchors/anchor_generator.h"
#include "models/anchors/anchor_labels.h"
#include "models/anchors/matcher.h"

namespace focalab::harness {
inline namespace analysis {

double DataStats::negatives_per_positive() const {
  return binary_positives > 0 ? binary_negatives / binary_positives : INFINITY;
}

double DataStats::negative_share_at_init(double alpha, double gamma) const {
  const double pi = prior_prob > 0 ? prior_prob : 0.5;  // prior_prob 0: logits at 0, p = 1/2
  // p_t of a positive is pi, of a negative 1 - pi.
  const double pos = -std::log(pi) * std::pow(1 - pi, gamma) * (alpha >= 0 ? alpha : 1.0);
  const double neg = -std::log1p(-pi) * std::pow(pi, gamma) * (alpha >= 0 ? 1 - alpha : 1.0);
  const double n = binary_negatives * neg, p = binary_positives * pos;
  return n + p > 0 ? n / (n + p) : 0;
}

std::string DataStats::report(const std::string& source, const TrialConfig& config) const {
  const double n = std::max<double>(1, static_cast<double>(images));
  std::string out;
  out += fmt::format("data stats: {} ({} data, {} training images counted)\n", source,
                     name_of(config.data.kind), images);
  out += fmt::format("  classes                          {}\n", classes);
  out += fmt::format("  objects per image                {:.2f}\n", static_cast<double>(objects) / n);
  out += fmt::format("  anchors per image                {:.0f}\n", anchors / n);
  out += fmt::format("  positive anchors per image       {:.2f}\n", positive_anchors / n);
  out += fmt::format("  ignored anchors per image        {:.2f}\n", ignored_anchors / n);
  out += fmt::format("  negative anchors per image       {:.1f}\n", negative_anchors / n);
  out += fmt::format("  images without a positive        {}\n", images_without_positive);
  out += fmt::format("  binary examples per image        {:.0f} (anchors x classes, ignored "
                     "anchors left out)\n",
                     (binary_negatives + binary_positives) / n);
  out += fmt::format("  binary negatives per positive    {:.0f}   (the paper on COCO: ~80,000)\n",
                     negatives_per_positive());
  out += fmt::format("  share of the loss from negatives at the prior init (pi = {}):\n",
                     prior_prob);
  out += fmt::format("    cross-entropy                  {:.2f}%\n", 100 * negative_share_at_init());
  out += fmt::format("    alpha-balanced CE, alpha .75   {:.2f}%\n",
                     100 * negative_share_at_init(0.75));
  out += fmt::format("    focal loss, gamma 2, alpha .25 {:.2f}%\n",
                     100 * negative_share_at_init(0.25, 2.0));
  return out;
}

DataStats compute_data_stats(const TrialConfig& config, int64_t max_images,
                             const std::function<void(int64_t, int64_t)>& progress) {
  const auto dataset = open_dataset(config.data, Split::kTrain);
  DataStats st;
  st.classes = dataset->num_classes();
  st.prior_prob = config.model.prior_prob;
  st.images = max_images > 0 ? std::min(max_images, dataset->size()) : dataset->size();
  const models::AnchorGenerator generator(retinanet_options(config).anchors);
  const models::Matcher matcher(matcher_options(config.model));
  const int64_t k = st.classes;
  // Anchors depend only on the padded size: kept for the sizes seen.
  std::vector<std::pair<std::pair<int64_t, int64_t>, torch::Tensor>> anchor_cache;
  for (int64_t i = 0; i < st.images; ++i) {
    if (progress && (i % 256 == 0 || i + 1 == st.images)) progress(i, st.images);
    const SampleTargets t = dataset->targets(i);
    // As collate pads: up to a multiple of 128; the strides of P3..P7 are 8..128.
    const int64_t h = (t.size.first + 127) / 128 * 128, w = (t.size.second + 127) / 128 * 128;
    torch::Tensor anchors;
    for (const auto& [size, a] : anchor_cache) {
      if (size == std::make_pair(h, w)) anchors = a;
    }
    if (!anchors.defined()) {
      std::vector<std::pair<int64_t, int64_t>> levels;
      for (int64_t stride = 8; stride <= 128; stride *= 2) levels.emplace_back(h / stride, w / stride);
      anchors = generator.grid_anchors(levels, {h, w}, torch::kCPU);
      if (anchor_cache.size() < 64) anchor_cache.emplace_back(std::make_pair(h, w), anchors);
    }
    const auto targets = models::label_anchors(anchors, {t.boxes}, {t.classes}, matcher,
                                               {t.crowd_boxes});
    const auto labels = targets.labels[0];
    const double pos = (labels == 1).sum().item<double>();
    const double neg = (labels == 0).sum().item<double>();
    const double ign = (labels == -1).sum().item<double>();
    st.objects += t.boxes.size(0);
    st.anchors += static_cast<double>(anchors.size(0));
    st.positive_anchors += pos;
    st.negative_anchors += neg;
    st.ignored_anchors += ign;
    st.binary_positives += pos;
    st.binary_negatives += neg * static_cast<double>(k) + pos * static_cast<double>(k - 1);
    if (pos == 0) ++st.images_without_positive;
  }
  return st;
}

}  // namespace analysis
}  // namespace focalab::harness
