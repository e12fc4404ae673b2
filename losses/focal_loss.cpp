#include "losses/focal_loss.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <mutex>
#include <vector>

#include "losses/focal_loss_kernel.h"

namespace focalab::losses {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

kernel::FocalParams params(double gamma, double alpha, double scale) {
  TORCH_CHECK(gamma >= 0, "focal loss: gamma must be >= 0, got ", gamma);
  kernel::FocalParams p;
  p.gamma = static_cast<float>(gamma);
  p.use_alpha = alpha >= 0;
  p.alpha = static_cast<float>(alpha);
  p.scale = static_cast<float>(scale);
  return p;
}

bool cpu_fast_path(const torch::Tensor& logits) {
  return logits.device().is_cpu() && logits.scalar_type() == torch::kFloat;
}

// Loss and gradient of every element from composed ATen ops (any device, any float dtype).
// pos: bool, broadcastable to x. Returns {loss, dloss/dx}, both scaled.
std::pair<torch::Tensor, torch::Tensor> composed(const torch::Tensor& x, const torch::Tensor& pos,
                                                 double gamma, double alpha, double scale) {
  auto z = torch::where(pos, x, -x);
  auto e = torch::exp(-z.abs());
  auto l = torch::log1p(e);
  auto ce = torch::relu(-z) + l;
  auto s = 1 / (1 + e);
  auto nonneg = z >= 0;
  auto pt = torch::where(nonneg, s, e * s);
  auto q = torch::where(nonneg, e * s, s);
  torch::Tensor w;
  if (gamma == 0) {
    w = torch::full_like(x, scale);
  } else {
    w = torch::exp(gamma * (-torch::relu(z) - l)) * scale;
  }
  if (alpha >= 0) {
    w = w * torch::where(pos, torch::full_like(x, alpha), torch::full_like(x, 1 - alpha));
  }
  auto g = w * (q + gamma * pt * ce);
  return {w * ce, torch::where(pos, -g, g)};
}

torch::Tensor scale_grad(const torch::Tensor& grad, const torch::Tensor& go) {
  if (!go.defined()) return grad;
  if (go.numel() == 1 && go.device().is_cpu() && go.item<double>() == 1.0) return grad;
  return grad * go;
}

// ---- dense targets (torchvision's contract) --------------------------------------------------
struct DenseFocalFn : public torch::autograd::Function<DenseFocalFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, double gamma, double alpha,
                               int64_t reduction) {
    const auto red = static_cast<Reduction>(reduction);
    const double scale = red == Reduction::kMean ? 1.0 / std::max<int64_t>(1, logits.numel()) : 1.0;
    torch::Tensor out, grad;
    if (cpu_fast_path(logits)) {
      auto x = logits.contiguous();
      auto t = targets.to(torch::kFloat).contiguous();
      grad = torch::empty_like(x);
      torch::Tensor loss = red == Reduction::kNone ? torch::empty_like(x) : torch::Tensor();
      const auto p = params(gamma, alpha, scale);
      std::mutex mu;
      double total = 0;
      const float* xp = x.data_ptr<float>();
      const float* tp = t.data_ptr<float>();
      float* gp = grad.data_ptr<float>();
      float* lp = loss.defined() ? loss.data_ptr<float>() : nullptr;
      at::parallel_for(0, x.numel(), 1 << 15, [&](int64_t b, int64_t e) {
        const double part = kernel::focal_dense(xp, tp, lp, gp, b, e, p);
        std::lock_guard<std::mutex> lock(mu);
        total += part;
      });
      out = red == Reduction::kNone ? loss : torch::tensor(total, x.options());
    } else {
      auto [loss, g] = composed(logits, targets > 0.5, gamma, alpha, scale);
      grad = g;
      out = red == Reduction::kNone ? loss : loss.sum();
    }
    ctx->save_for_backward({grad});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto grad = ctx->get_saved_variables()[0];
    return {scale_grad(grad, grad_outputs[0]), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

// ---- label form (the trainer's) --------------------------------------------------------------
struct LabelFocalFn : public torch::autograd::Function<LabelFocalFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& labels, double gamma, double alpha,
                               double scale, LossBreakdown* breakdown) {
    TORCH_CHECK(logits.dim() == 2, "focal_loss_sum: logits must be [M, K], got ", logits.sizes());
    TORCH_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0),
                "focal_loss_sum: labels must be [M] with M = ", logits.size(0), ", got ",
                labels.sizes());
    TORCH_CHECK(scale > 0, "focal_loss_sum: scale must be > 0, got ", scale);
    const int64_t m = logits.size(0), k = logits.size(1);
    torch::Tensor grad, out;
    if (cpu_fast_path(logits)) {
      auto x = logits.contiguous();
      auto lab = labels.to(torch::kLong).contiguous();
      grad = torch::empty_like(x);
      const auto p = params(gamma, alpha, scale);
      const float* xp = x.data_ptr<float>();
      const int64_t* lp = lab.data_ptr<int64_t>();
      float* gp = grad.data_ptr<float>();
      std::mutex mu;
      double total = 0;
      std::vector<double> count, loss_sum;
      if (breakdown) {
        count.assign(static_cast<size_t>(3 * k), 0.0);
        loss_sum.assign(static_cast<size_t>(3 * k), 0.0);
      }
      const float hard = breakdown ? static_cast<float>(breakdown->options().hard_score) : 0.f;
      at::parallel_for(0, m, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, k)),
                       [&](int64_t b, int64_t e) {
                         std::vector<double> c, l;
                         kernel::Accounting acc{nullptr, nullptr, hard};
                         if (breakdown) {
                           c.assign(static_cast<size_t>(3 * k), 0.0);
                           l.assign(static_cast<size_t>(3 * k), 0.0);
                           acc.count = c.data();
                           acc.loss_sum = l.data();
                         }
                         const double part = kernel::focal_rows(xp, lp, gp, b, e, k, p,
                                                                breakdown ? &acc : nullptr);
                         std::lock_guard<std::mutex> lock(mu);
                         total += part;
                         for (size_t i = 0; i < c.size(); ++i) {
                           count[i] += c[i];
                           loss_sum[i] += l[i];
                         }
                       });
      out = torch::tensor(total, x.options());
      if (breakdown) {
        // The kernel's sums carry `scale`; the breakdown stores raw sums.
        auto counts = torch::tensor(count, torch::kDouble).view({3, k});
        auto losses = torch::tensor(loss_sum, torch::kDouble).view({3, k}) / scale;
        breakdown->add_sums(counts, losses);
      }
    } else {
      auto classes = torch::arange(k, labels.options().dtype(torch::kLong));
      auto pos = labels.unsqueeze(1) == classes.unsqueeze(0);  // [M, K]
      auto valid = (labels != -2).unsqueeze(1).to(logits.scalar_type());
      auto [loss, g] = composed(logits, pos, gamma, alpha, scale);
      loss = loss * valid;
      grad = g * valid;
      out = loss.sum();
      if (breakdown) {
        auto keep = labels != -2;
        breakdown->accumulate(loss.index({keep}) / scale, logits.index({keep}),
                              pos.index({keep}).to(logits.scalar_type()));
      }
    }
    ctx->save_for_backward({grad});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto grad = ctx->get_saved_variables()[0];
    return {scale_grad(grad, grad_outputs[0]), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

Reduction parse_reduction(const std::string& name) {
  if (name == "none") return Reduction::kNone;
  if (name == "sum") return Reduction::kSum;
  if (name == "mean") return Reduction::kMean;
  TORCH_CHECK(false, "reduction must be none, sum or mean, got '", name, "'");
}

torch::Tensor sigmoid_focal_loss_fused(const torch::Tensor& logits, const torch::Tensor& targets,
                                       double gamma, double alpha, Reduction reduction) {
  TORCH_CHECK(logits.sizes() == targets.sizes(), "sigmoid_focal_loss_fused: logits ",
              logits.sizes(), " and targets ", targets.sizes(), " must have the same shape");
  return DenseFocalFn::apply(logits, targets, gamma, alpha, static_cast<int64_t>(reduction));
}

torch::Tensor focal_loss_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                             double gamma, double alpha, double scale, LossBreakdown* breakdown) {
  return LabelFocalFn::apply(logits, labels, gamma, alpha, scale, breakdown);
}

bool fused_focal_vectorized() { return kernel::focal_kernel_vectorized(); }

}  // namespace focalab::losses
