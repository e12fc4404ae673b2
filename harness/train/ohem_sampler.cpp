#include "harness/train/ohem_sampler.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

#include "losses/focal_loss.h"
#include "models/anchors/box_ops.h"

namespace focalab::harness {
inline namespace train {

torch::Tensor select_ohem(const torch::Tensor& anchor_labels, const torch::Tensor& cls_logits,
                          const torch::Tensor& box_deltas, const torch::Tensor& anchors,
                          const models::BoxCoder& box_coder,
                          const losses::OhemOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t n = anchor_labels.size(0), k = cls_logits.size(2);
  auto selected = torch::full_like(anchor_labels, -2);
  auto select_image = [&](int64_t i) {
    auto labels = anchor_labels[i];                                   // [R]
    auto candidates = torch::nonzero(labels != -2).squeeze(1);        // valid anchors
    if (candidates.numel() == 0) return;
    auto lab = labels.index_select(0, candidates);
    auto logits = cls_logits[i].index_select(0, candidates).to(torch::kFloat);  // [C, K]
    auto onehot = losses::one_hot_targets(lab, k, torch::kFloat);
    auto score = torch::binary_cross_entropy_with_logits(logits, onehot, {}, {},
                                                         at::Reduction::None)
                     .sum(1);  // [C] per-anchor CE
    const int64_t pre = std::min<int64_t>(score.size(0), 8 * options.batch_size);
    auto [top_score, order] = score.topk(pre);
    auto top = candidates.index_select(0, order);
    auto boxes = box_coder.decode(box_deltas[i].index_select(0, top).to(torch::kFloat),
                                  anchors.index_select(0, top));
    // Without the 1:3 split only the first batch_size survivors are used: NMS stops there.
    const int64_t max_keep = options.pos_fraction > 0 ? -1 : options.batch_size;
    auto keep =
        top.index_select(0, models::nms(boxes, top_score, options.nms_thresh, max_keep));
    auto keep_labels = labels.index_select(0, keep);
    torch::Tensor chosen;
    if (options.pos_fraction > 0) {
      const auto max_pos = static_cast<int64_t>(options.pos_fraction * options.batch_size);
      auto pos = keep.index({keep_labels >= 0});
      pos = pos.narrow(0, 0, std::min<int64_t>(pos.size(0), max_pos));
      auto neg = keep.index({keep_labels < 0});
      neg = neg.narrow(0, 0, std::min<int64_t>(neg.size(0), options.batch_size - pos.size(0)));
      chosen = torch::cat({pos, neg});
    } else {
      chosen = keep.narrow(0, 0, std::min<int64_t>(keep.size(0), options.batch_size));
    }
    selected[i].index_copy_(0, chosen, labels.index_select(0, chosen));
  };
  // Images are independent (each writes its own row of `selected`): one per thread, since the
  // NMS over a few thousand boxes is sequential.
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    torch::NoGradGuard no_grad_here;  // grad mode is thread-local
    for (int64_t i = begin; i < end; ++i) select_image(i);
  });
  return selected;
}

}  // namespace train
}  // namespace focalab::harness
