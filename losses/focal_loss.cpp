#include "losses/focal_loss.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "losses/focal_formula.h"
#include "losses/kernel/focal_kernel.h"

namespace focalab::losses {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

kernel::FocalParams params(double gamma, double alpha, double scale, int64_t path) {
  TORCH_CHECK(gamma >= 0, "focal loss: gamma must be >= 0, got ", gamma);
  kernel::FocalParams p;
  p.path = static_cast<kernel::KernelPath>(path);
  p.gamma = static_cast<float>(gamma);
  p.use_alpha = alpha >= 0;
  p.alpha = static_cast<float>(alpha);
  p.scale = static_cast<float>(scale);
  return p;
}

bool cpu_fast_path(const torch::Tensor& logits) {
  return logits.device().is_cpu() && logits.scalar_type() == torch::kFloat;
}
// (targets and labels are moved to the logits' device before use)

// Loss and gradient of every element from composed ATen ops (any device, any float dtype).
// pos: bool, broadcastable to x. Returns {loss, dloss/dx}, both scaled.
std::pair<torch::Tensor, torch::Tensor> composed(const torch::Tensor& x, const torch::Tensor& pos,
                                                 double gamma, double alpha, double scale) {
  TORCH_CHECK(gamma >= 0, "focal loss: gamma must be >= 0, got ", gamma);
  const FocalTerms<torch::Tensor> t = focal_terms(torch::where(pos, x, -x));
  torch::Tensor w;
  if (gamma == 0) {
    w = torch::full_like(x, scale);
  } else {
    w = torch::exp(gamma * t.log_q) * scale;
  }
  if (alpha >= 0) {
    w = w * torch::where(pos, torch::full_like(x, alpha), torch::full_like(x, 1 - alpha));
  }
  auto g = w * (t.q + gamma * t.pt * t.ce);
  return {w * t.ce, torch::where(pos, -g, g)};
}

// Partial results of at::parallel_for chunks, combined in the order of the chunks (not of
// their completion), so that sums are the same from run to run.
class OrderedSum {
 public:
  explicit OrderedSum(size_t vector_size = 0) : size_(vector_size) {}
  void add(int64_t begin, double value, std::vector<double> a = {}, std::vector<double> b = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    parts_.push_back({begin, value, std::move(a), std::move(b)});
  }
  double value() {
    sort();
    double total = 0;
    for (const auto& part : parts_) total += part.value;
    return total;
  }
  void vectors(std::vector<double>& a, std::vector<double>& b) {
    sort();
    a.assign(size_, 0.0);
    b.assign(size_, 0.0);
    for (const auto& part : parts_) {
      for (size_t i = 0; i < size_ && i < part.a.size(); ++i) {
        a[i] += part.a[i];
        b[i] += part.b[i];
      }
    }
  }

 private:
  struct Part {
    int64_t begin;
    double value;
    std::vector<double> a, b;
  };
  void sort() {
    std::sort(parts_.begin(), parts_.end(),
              [](const Part& x, const Part& y) { return x.begin < y.begin; });
  }
  size_t size_;
  std::mutex mu_;
  std::vector<Part> parts_;
};

torch::Tensor scale_grad(const torch::Tensor& grad, const torch::Tensor& go) {
  if (!go.defined()) return grad;
  if (go.numel() == 1 && go.device().is_cpu() && go.item<double>() == 1.0) return grad;
  return grad * go;
}

// ---- dense targets (torchvision's contract) --------------------------------------------------
struct DenseFocalFn : public torch::autograd::Function<DenseFocalFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, double gamma, double alpha,
                               int64_t reduction, int64_t path) {
    const auto red = static_cast<Reduction>(reduction);
    const double scale = red == Reduction::kMean ? 1.0 / std::max<int64_t>(1, logits.numel()) : 1.0;
    torch::Tensor out, grad;
    if (cpu_fast_path(logits)) {
      auto x = logits.contiguous();
      auto t = targets.to(torch::kCPU, torch::kFloat).contiguous();
      grad = torch::empty_like(x);
      torch::Tensor loss = red == Reduction::kNone ? torch::empty_like(x) : torch::Tensor();
      const auto p = params(gamma, alpha, scale, path);
      const float* xp = x.data_ptr<float>();
      const float* tp = t.data_ptr<float>();
      float* gp = grad.data_ptr<float>();
      float* lp = loss.defined() ? loss.data_ptr<float>() : nullptr;
      OrderedSum total;
      at::parallel_for(0, x.numel(), 1 << 15, [&](int64_t b, int64_t e) {
        total.add(b, kernel::focal_dense(xp, tp, lp, gp, b, e, p));
      });
      out = red == Reduction::kNone ? loss : torch::tensor(total.value(), x.options());
    } else {
      auto [loss, g] = composed(logits, targets.to(logits.device()) > 0.5, gamma, alpha, scale);
      grad = g;
      out = red == Reduction::kNone ? loss : loss.sum();
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

// ---- label form (the trainer's) --------------------------------------------------------------
struct LabelFocalFn : public torch::autograd::Function<LabelFocalFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& labels, double gamma, double alpha,
                               double scale, LossBreakdown* breakdown, int64_t path) {
    TORCH_CHECK(logits.dim() == 2, "focal_loss_sum: logits must be [M, K], got ", logits.sizes());
    TORCH_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0),
                "focal_loss_sum: labels must be [M] with M = ", logits.size(0), ", got ",
                labels.sizes());
    TORCH_CHECK(scale > 0, "focal_loss_sum: scale must be > 0, got ", scale);
    const int64_t m = logits.size(0), k = logits.size(1);
    torch::Tensor grad, out;
    if (cpu_fast_path(logits)) {
      auto x = logits.contiguous();
      auto lab = labels.to(torch::kCPU, torch::kLong).contiguous();
      if (m > 0) {
        const int64_t lo = lab.min().item<int64_t>(), hi = lab.max().item<int64_t>();
        TORCH_CHECK(lo >= -2 && hi < k, "focal_loss_sum: labels must be in [-2, ", k,
                    "), got values in [", lo, ", ", hi, "]");
      }
      grad = torch::empty_like(x);
      const auto p = params(gamma, alpha, scale, path);
      const float* xp = x.data_ptr<float>();
      const int64_t* lp = lab.data_ptr<int64_t>();
      float* gp = grad.data_ptr<float>();
      const float theta =
          breakdown ? kernel::hard_logit_threshold(static_cast<float>(breakdown->options().hard_score))
                    : 0.f;
      const size_t acc_size = breakdown ? static_cast<size_t>(3 * k) : 0;
      OrderedSum total(acc_size);
      at::parallel_for(0, m, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, k)),
                       [&](int64_t b, int64_t e) {
                         std::vector<double> c(acc_size), l(acc_size);
                         kernel::Accounting acc{c.data(), l.data(), theta};
                         const double part = kernel::focal_rows(xp, lp, gp, b, e, k, p,
                                                                breakdown ? &acc : nullptr);
                         total.add(b, part, std::move(c), std::move(l));
                       });
      out = torch::tensor(total.value(), x.options());
      if (breakdown) {
        std::vector<double> count, loss_sum;
        total.vectors(count, loss_sum);
        // The kernel's sums carry `scale`; the breakdown stores raw sums.
        auto counts = torch::tensor(count, torch::kDouble).view({3, k});
        auto losses = torch::tensor(loss_sum, torch::kDouble).view({3, k}) / scale;
        breakdown->add_sums(counts, losses);
      }
    } else {
      auto lab = labels.to(logits.device(), torch::kLong);
      auto classes = torch::arange(k, lab.options());
      auto pos = lab.unsqueeze(1) == classes.unsqueeze(0);  // [M, K]
      auto valid = (lab != -2).unsqueeze(1).to(logits.scalar_type());
      auto [loss, g] = composed(logits, pos, gamma, alpha, scale);
      loss = loss * valid;
      grad = g * valid;
      out = loss.sum();
      if (breakdown) {
        auto keep = lab != -2;
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
            torch::Tensor(), torch::Tensor(), torch::Tensor()};
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
                                       double gamma, double alpha, Reduction reduction,
                                       kernel::KernelPath path) {
  TORCH_CHECK(logits.sizes() == targets.sizes(), "sigmoid_focal_loss_fused: logits ",
              logits.sizes(), " and targets ", targets.sizes(), " must have the same shape");
  return DenseFocalFn::apply(logits, targets, gamma, alpha, static_cast<int64_t>(reduction),
                             static_cast<int64_t>(path));
}

torch::Tensor focal_loss_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                             double gamma, double alpha, double scale, LossBreakdown* breakdown,
                             kernel::KernelPath path) {
  return LabelFocalFn::apply(logits, labels, gamma, alpha, scale, breakdown,
                             static_cast<int64_t>(path));
}

std::string fused_focal_kernel_name() {
  return kernel::path_name(kernel::KernelPath::kBest);
}

torch::Tensor one_hot_targets(const torch::Tensor& labels, int64_t num_classes,
                              torch::ScalarType dtype) {
  return torch::one_hot(labels.clamp_min(0), num_classes).to(dtype) *
         (labels >= 0).unsqueeze(-1).to(dtype);
}

}  // namespace focalab::losses
