#include "losses/loss_histogram.h"

#include <torch/torch.h>

namespace focalab::losses {


void LossHistogram::add(const torch::Tensor& elem_loss, const torch::Tensor& logits,
                        const torch::Tensor& targets, const torch::Tensor& max_iou) {
  TORCH_CHECK(elem_loss.sizes() == logits.sizes() && logits.sizes() == targets.sizes() &&
                  logits.dim() == 2,
              "LossHistogram: loss, logits and targets must be [M, K] alike, got ",
              elem_loss.sizes(), ", ", logits.sizes(), ", ", targets.sizes());
  TORCH_CHECK(max_iou.dim() == 1 && max_iou.size(0) == logits.size(0),
              "LossHistogram: max_iou must be [M] with M = ", logits.size(0), ", got ",
              max_iou.sizes());
  torch::NoGradGuard no_grad;
  const auto device = logits.device();
  auto pos = targets.detach() > 0.5;                       // [M, K]
  auto p = torch::sigmoid(logits.detach().to(torch::kDouble));
  auto q = torch::where(pos, 1 - p, p);                    // probability of the wrong answer
  auto edges = torch::tensor(std::vector<double>(kHistogramEdges.begin(), kHistogramEdges.end()),
                             torch::dtype(torch::kDouble).device(device));
  // bucketize(right=true) - 1 gives b with edge[b] <= q < edge[b + 1]; q = 1 goes to the last.
  auto bin = (torch::bucketize(q, edges, /*out_int32=*/false, /*right=*/true) - 1)
                 .clamp(0, kHistogramBins - 1);
  auto near = (max_iou.detach().to(device) >= near_object_iou_).unsqueeze(1).expand_as(pos);
  auto group = torch::where(pos, torch::zeros_like(bin),
                            torch::where(near, torch::full_like(bin, 2), torch::ones_like(bin)));
  auto index = (group * kHistogramBins + bin).flatten();
  const int64_t size = kHistogramGroups * kHistogramBins;
  auto opts = torch::dtype(torch::kDouble).device(device);
  auto counts = torch::zeros({size}, opts).index_add_(0, index, torch::ones({index.numel()}, opts));
  auto sums = torch::zeros({size}, opts).index_add_(0, index,
                                                    elem_loss.detach().to(torch::kDouble).flatten());
  if (!count_.defined()) {
    count_ = counts;
    loss_sum_ = sums;
  } else {
    count_ += counts;
    loss_sum_ += sums;
  }
  ++iterations_;
}

LossHistogramSums LossHistogram::take() {
  LossHistogramSums out;
  out.iterations = iterations_;
  const size_t size = static_cast<size_t>(kHistogramGroups * kHistogramBins);
  out.count.assign(size, 0.0);
  out.loss_sum.assign(size, 0.0);
  if (count_.defined()) {
    auto c = count_.cpu().contiguous();
    auto l = loss_sum_.cpu().contiguous();
    std::copy(c.data_ptr<double>(), c.data_ptr<double>() + size, out.count.begin());
    std::copy(l.data_ptr<double>(), l.data_ptr<double>() + size, out.loss_sum.begin());
  }
  count_ = torch::Tensor();
  loss_sum_ = torch::Tensor();
  iterations_ = 0;
  return out;
}

}  // namespace focalab::losses
