#include "losses/loss_breakdown.h"

#include <torch/torch.h>

#include <numeric>

namespace focalab::losses {


LossBreakdown::LossBreakdown(int64_t num_classes, LossBreakdownOptions options)
    : num_classes_(num_classes), options_(options) {}

void LossBreakdown::add(const torch::Tensor& elem_loss, const torch::Tensor& logits,
                        const torch::Tensor& targets, int64_t ignored_anchors, double normalizer) {
  accumulate(elem_loss, logits, targets);
  finish_iteration(ignored_anchors, normalizer);
}

void LossBreakdown::accumulate(const torch::Tensor& elem_loss, const torch::Tensor& logits,
                               const torch::Tensor& targets) {
  TORCH_CHECK(elem_loss.dim() == 2 && elem_loss.size(1) == num_classes_, "LossBreakdown: loss ",
              "must be [M, ", num_classes_, "], got ", elem_loss.sizes());
  torch::NoGradGuard no_grad;
  auto loss = elem_loss.detach().to(torch::kDouble);
  auto pos = targets > 0.5;                                      // [M, K]
  auto hard = (~pos) & (torch::sigmoid(logits.detach()) >= options_.hard_score);
  auto easy = (~pos) & (~hard);
  add_sums(torch::stack({pos.sum(0), hard.sum(0), easy.sum(0)}).to(torch::kDouble),
           torch::stack({(loss * pos).sum(0), (loss * hard).sum(0), (loss * easy).sum(0)}));
}

void LossBreakdown::add_sums(const torch::Tensor& counts, const torch::Tensor& loss_sums) {
  TORCH_CHECK(counts.sizes() == torch::IntArrayRef({kNumLossCategories, num_classes_}) &&
                  loss_sums.sizes() == counts.sizes(),
              "LossBreakdown::add_sums: expected [3, ", num_classes_, "] sums, got ",
              counts.sizes(), " and ", loss_sums.sizes());
  auto c = counts.detach().to(torch::kDouble);
  auto l = loss_sums.detach().to(torch::kDouble);
  if (!count_.defined()) {
    count_ = c.clone();
    loss_sum_ = l.clone();
  } else {
    count_ += c.to(count_.device());
    loss_sum_ += l.to(loss_sum_.device());
  }
}

void LossBreakdown::finish_iteration(int64_t ignored_anchors, double normalizer) {
  ++iterations_;
  ignored_anchors_ += ignored_anchors;
  normalizer_sum_ += normalizer;
}

LossBreakdownSums LossBreakdown::take() {
  LossBreakdownSums out;
  out.num_classes = num_classes_;
  out.iterations = iterations_;
  out.ignored_anchors = ignored_anchors_;
  out.normalizer_sum = normalizer_sum_;
  const size_t n = static_cast<size_t>(kNumLossCategories * num_classes_);
  out.count.assign(n, 0.0);
  out.loss_sum.assign(n, 0.0);
  if (count_.defined()) {
    auto c = count_.to(torch::kCPU).contiguous();
    auto l = loss_sum_.to(torch::kCPU).contiguous();
    std::copy(c.data_ptr<double>(), c.data_ptr<double>() + n, out.count.begin());
    std::copy(l.data_ptr<double>(), l.data_ptr<double>() + n, out.loss_sum.begin());
  }
  count_ = torch::Tensor();
  loss_sum_ = torch::Tensor();
  iterations_ = 0;
  ignored_anchors_ = 0;
  normalizer_sum_ = 0;
  return out;
}

void LossBreakdown::restore(const LossBreakdownSums& sums, const torch::Device& device) {
  TORCH_CHECK(sums.num_classes == num_classes_ &&
                  sums.count.size() == static_cast<size_t>(kNumLossCategories * num_classes_) &&
                  sums.loss_sum.size() == sums.count.size(),
              "LossBreakdown::restore: sums of ", sums.num_classes, " classes, expected ",
              num_classes_);
  iterations_ = sums.iterations;
  ignored_anchors_ = sums.ignored_anchors;
  normalizer_sum_ = sums.normalizer_sum;
  count_ = torch::Tensor();
  loss_sum_ = torch::Tensor();
  if (sums.iterations > 0) {
    const auto opts = torch::TensorOptions().dtype(torch::kDouble);
    count_ = torch::tensor(sums.count, opts).view({kNumLossCategories, num_classes_}).to(device);
    loss_sum_ =
        torch::tensor(sums.loss_sum, opts).view({kNumLossCategories, num_classes_}).to(device);
  }
}

}  // namespace focalab::losses
