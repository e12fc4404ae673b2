// Parity with torchvision.ops.sigmoid_focal_loss (Debian's python3-torchvision, run through
// /usr/bin/python3): values and gradients of focalab's fused focal loss on random inputs with
// extreme logits, for several gamma / alpha / reductions, to 1e-5 relative.

#include <cstdlib>
#include <fstream>

#include "losses/focal_loss.h"
#include "test_util.h"

namespace focalab::losses {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

bool python_has_torchvision() {
  const std::string cmd = std::string(kPython) + " -c 'import torchvision' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

void write_bin(const std::string& path, const torch::Tensor& t) {
  auto c = t.to(torch::kFloat).contiguous();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(c.data_ptr<float>()),
             static_cast<std::streamsize>(c.numel() * sizeof(float)));
}

torch::Tensor read_bin(const std::string& path, const std::vector<int64_t>& shape) {
  auto t = torch::empty(shape, torch::kFloat);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(t.data_ptr<float>()),
          static_cast<std::streamsize>(t.numel() * sizeof(float)));
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return t;
}

TEST(FocalLossParity, MatchesTorchvision) {
  if (!python_has_torchvision()) {
    GTEST_SKIP() << "SKIPPED: " << kPython << " cannot import torchvision "
                 << "(apt-get install python3-torchvision); parity not checked";
  }
  const int64_t m = 400, k = 80;
  torch::manual_seed(2017);
  auto x = torch::randn({m, k}) * 5;
  auto flat = x.view({-1});
  const std::vector<float> extremes = {100.f, -100.f, 50.f, -50.f, 20.f, -20.f, 0.f, 1e-7f};
  for (size_t i = 0; i < extremes.size(); ++i) flat[static_cast<int64_t>(i * 997)] = extremes[i];
  auto t = (torch::rand({m, k}) < 0.05).to(torch::kFloat);
  auto w = torch::rand({m, k});
  testing::TempDir dir;
  write_bin(dir.file("x.bin"), x);
  write_bin(dir.file("t.bin"), t);
  write_bin(dir.file("w.bin"), w);
  struct Case {
    double gamma, alpha;
    const char* reduction;
  };
  const std::vector<Case> cases = {{2.0, 0.25, "none"}, {2.0, 0.25, "sum"}, {2.0, 0.25, "mean"},
                                   {0.0, -1.0, "sum"},  {0.0, 0.75, "none"}, {1.0, 0.25, "none"},
                                   {0.5, 0.5, "none"},  {5.0, 0.25, "sum"},  {2.0, -1.0, "mean"}};
  {
    std::ofstream f(dir.file("cases.txt"));
    for (const auto& c : cases) f << c.gamma << " " << c.alpha << " " << c.reduction << "\n";
  }
  const std::string cmd = std::string(kPython) + " " + FOCALAB_SOURCE_DIR +
                          "/tests/parity/focal_loss_reference.py " + dir.file("") + " " +
                          std::to_string(m) + " " + std::to_string(k);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const auto red = parse_reduction(c.reduction);
    auto xi = x.clone().requires_grad_(true);
    auto out = sigmoid_focal_loss_fused(xi, t, c.gamma, c.alpha, red);
    (red == Reduction::kNone ? out * w : out).sum().backward();
    const std::vector<int64_t> shape =
        red == Reduction::kNone ? std::vector<int64_t>{m, k} : std::vector<int64_t>{};
    auto ref = read_bin(dir.file("out_" + std::to_string(i) + ".bin"), shape);
    auto ref_grad = read_bin(dir.file("grad_" + std::to_string(i) + ".bin"), {m, k});
    const std::string what = fmt::format("gamma {} alpha {} {}", c.gamma, c.alpha, c.reduction);
    EXPECT_TRUE(torch::allclose(out, ref, 1e-5, 1e-7))
        << what << ": max |diff| " << (out - ref).abs().max().item<double>();
    // torchvision's autograd gives NaN where pow's derivative meets 0^(gamma - 1) (gamma < 1);
    // focalab's analytic gradient stays finite there.
    auto finite = torch::isfinite(ref_grad);
    EXPECT_TRUE(torch::isfinite(xi.grad()).all().item<bool>()) << what;
    auto ours = xi.grad().index({finite}), theirs = ref_grad.index({finite});
    EXPECT_TRUE(torch::allclose(ours, theirs, 1e-5, 1e-7))
        << what << ": max |grad diff| " << (ours - theirs).abs().max().item<double>();
  }
}

}  // namespace
}  // namespace focalab::losses
