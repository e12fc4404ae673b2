#include "losses/box_loss.h"

#include <torch/torch.h>

namespace focalab::losses {

torch::Tensor smooth_l1_loss_sum(const torch::Tensor& pred, const torch::Tensor& target,
                                 const BoxLossOptions& options) {
  TORCH_CHECK(pred.sizes() == target.sizes(), "smooth_l1_loss_sum: pred ", pred.sizes(),
              " and target ", target.sizes(), " must have the same shape");
  TORCH_CHECK(options.beta >= 0, "smooth_l1_loss_sum: beta must be >= 0, got ", options.beta);
  auto diff = (pred - target).abs();
  if (options.beta < 1e-5) return diff.sum();
  return torch::where(diff < options.beta, 0.5 * diff * diff / options.beta,
                      diff - 0.5 * options.beta)
      .sum();
}

}  // namespace focalab::losses
