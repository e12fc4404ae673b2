// `focalab bench loss`: the fused focal loss against torchvision.ops.sigmoid_focal_loss (run by
// /usr/bin/python3 in the same session with the same thread count) and against a memory copy.

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <unistd.h>

#include "harness/cli/commands.h"
#include "harness/device.h"
#include "harness/errors.h"
#include "losses/classification_loss.h"
#include "losses/focal_loss.h"
#include "losses/loss_breakdown.h"

namespace focalab::cli {

namespace po = boost::program_options;

namespace {

// Runs torchvision's focal loss forward + backward; prints the median seconds on stdout.
const char* kTorchvisionBench = R"py(
import sys, time, torch
from torchvision.ops import sigmoid_focal_loss
threads, m, k, reps, device = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)
x = (torch.randn(m, k, generator=g) * 2 - 4).to(device)
t = torch.zeros(m, k)
pos = torch.randint(0, m, (m // 300,), generator=g)
t[pos, torch.randint(0, k, (pos.numel(),), generator=g)] = 1
t = t.to(device)
def step():
    xx = x.detach().requires_grad_(True)
    loss = sigmoid_focal_loss(xx, t, alpha=0.25, gamma=2.0, reduction="sum")
    loss.backward()
    if device != "cpu": torch.cuda.synchronize()
for _ in range(2): step()
times = []
for _ in range(reps):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
times.sort()
print(times[len(times) // 2])
)py";

double median_seconds(int reps, const std::function<void()>& fn) {
  fn();
  fn();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::optional<double> torchvision_seconds(int64_t threads, int64_t m, int64_t k, int reps,
                                          const std::string& device, std::string& why) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "focalab-bench-XXXXXX.py").string();
  const int fd = mkstemps(tmpl.data(), 3);
  if (fd < 0) {
    why = "cannot create a temporary file";
    return std::nullopt;
  }
  close(fd);
  const std::filesystem::path script = tmpl;
  std::ofstream(script) << kTorchvisionBench;
  // stdout only: the median is the last line (warnings go to stderr, shown to the user).
  const std::string cmd = fmt::format("/usr/bin/python3 {} {} {} {} {} {}", script.string(),
                                      threads, m, k, reps, device == "cpu" ? "cpu" : "cuda");
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  if (pipe) {
    char buf[512];
    while (fgets(buf, sizeof buf, pipe.get())) out += buf;
  }
  const int rc = pipe ? pclose(pipe.release()) : -1;
  std::filesystem::remove(script);
  try {
    std::string last = out;
    while (!last.empty() && std::isspace(static_cast<unsigned char>(last.back()))) last.pop_back();
    last = last.substr(last.find_last_of('\n') + 1);
    if (rc == 0) return std::stod(last);
  } catch (const std::exception&) {
  }
  why = out.empty() ? "no output" : out.substr(0, out.find('\n'));
  return std::nullopt;
}

int bench_loss(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "threads", po::value<int64_t>()->default_value(0), "CPU threads (0 = all cores)")(
      "reps", po::value<int>()->default_value(15), "timed repetitions (median reported)")(
      "images", po::value<int64_t>()->default_value(2), "images (x 49,104 anchors at 512 px)")(
      "classes", po::value<int64_t>()->default_value(80), "classes")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu | cuda[:N]")(
      "no-torchvision", "skip the torchvision comparison");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::ostringstream ss;
    ss << opts;
    fmt::print(
        "Usage: focalab bench loss [options]\n\n"
        "Times the focal loss forward + backward (gamma 2, alpha .25) on RetinaNet-sized inputs\n"
        "(default 2 images x 49,104 anchors x 80 classes: 512 px on COCO classes): focalab's fused\n"
        "kernel with and without loss accounting, the composed ATen version, and\n"
        "torchvision.ops.sigmoid_focal_loss run by /usr/bin/python3 with the same threads; prints\n"
        "medians, ratios and effective bandwidth against a memory copy.\n\n"
        "Example:\n  focalab bench loss --threads 2\n\n{}",
        ss.str());
    return kExitOk;
  }
  po::notify(vm);
  const int reps = std::max(1, vm["reps"].as<int>());
  const int64_t threads = harness::configure_threads(vm["threads"].as<int64_t>());
  const torch::Device device = harness::resolve_device(vm["device"].as<std::string>());
  const int64_t m = vm["images"].as<int64_t>() * 49104, k = vm["classes"].as<int64_t>();
  if (m <= 0 || k <= 0) throw UsageError("--images and --classes must be > 0");
  const auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };

  torch::manual_seed(0);
  auto x = (torch::randn({m, k}) * 2 - 4).to(device);  // logits around the prior's -4.6
  auto labels = torch::full({m}, -1, torch::kLong);
  auto pos = torch::randint(0, m, {m / 300}, torch::kLong);
  labels.index_put_({pos}, torch::randint(0, k, {pos.size(0)}, torch::kLong));
  labels.index_put_({torch::randint(0, m, {m / 100}, torch::kLong)}, -2);  // ignored anchors
  labels = labels.to(device);
  // The same targets as dense 0/1 (what torchvision's interface takes; ignored rows are
  // background there).
  auto dense = losses::one_hot_targets(labels, k, torch::kFloat);
  const double normalizer = static_cast<double>(pos.size(0));
  losses::LossBreakdown breakdown(k);

  auto run = [&](const std::function<torch::Tensor(const torch::Tensor&)>& loss_fn) {
    return median_seconds(reps, [&] {
      auto xx = x.detach().requires_grad_(true);
      loss_fn(xx).backward();
      sync();
    });
  };
  struct Row {
    std::string name;
    double seconds;
    double bytes;  // memory the op must move at least (read inputs, write gradient)
  };
  const double elems = static_cast<double>(m * k);
  std::vector<Row> rows;
  rows.push_back({"focalab fused, labels", run([&](const torch::Tensor& xx) {
                    return losses::focal_loss_sum(xx, labels, 2.0, 0.25, 1.0 / normalizer);
                  }),
                  8 * elems});
  rows.push_back({"focalab fused, labels + accounting", run([&](const torch::Tensor& xx) {
                    auto loss = losses::focal_loss_sum(xx, labels, 2.0, 0.25,
                                                       1.0 / normalizer, &breakdown);
                    breakdown.finish_iteration(0, normalizer);
                    return loss;
                  }),
                  8 * elems});
  breakdown.take();
  rows.push_back({"focalab fused, dense targets", run([&](const torch::Tensor& xx) {
                    return losses::sigmoid_focal_loss_fused(xx, dense, 2.0, 0.25,
                                                            losses::Reduction::kSum);
                  }),
                  12 * elems});
  rows.push_back({"composed ATen ops (C++)", run([&](const torch::Tensor& xx) {
                    return losses::sigmoid_focal_loss(xx, dense, 2.0, 0.25).sum();
                  }),
                  12 * elems});
  const double copy = median_seconds(reps, [&] {
    auto y = x.clone();
    sync();
  });
  std::optional<double> tv;
  std::string why = "--no-torchvision";
  if (!vm.count("no-torchvision")) {
    tv = torchvision_seconds(threads, m, k, reps, device.is_cuda() ? "cuda" : "cpu", why);
  }

  fmt::print("focal loss forward + backward, {} x {} logits (float32, {:.0f} MB), gamma 2, "
             "alpha .25, {} on {} with {} threads, median of {}\n",
             m, k, 4 * elems / 1e6, losses::fused_focal_vectorized() ? "AVX2" : "portable",
             device.str(), threads, reps);
  fmt::print("memory copy (clone): {:.2f} ms = {:.1f} GB/s\n\n", 1e3 * copy, 8 * elems / copy / 1e9);
  fmt::print("| {:<36} | {:>9} | {:>14} | {:>10} | {:>12} |\n", "implementation", "ms",
             "x torchvision", "GB/s", "of memcpy");
  fmt::print("|{:-<38}|{:->10}:|{:->15}:|{:->11}:|{:->13}:|\n", "", "", "", "", "");
  auto print_row = [&](const std::string& name, double s, double bytes) {
    fmt::print("| {:<36} | {:>9.2f} | {:>14} | {:>10.1f} | {:>11.0f}% |\n", name, 1e3 * s,
               tv ? fmt::format("{:.1f}x", *tv / s) : "–", bytes / s / 1e9,
               100 * (bytes / s) / (8 * elems / copy));
  };
  if (tv) print_row("torchvision.ops.sigmoid_focal_loss", *tv, 12 * elems);
  for (const auto& r : rows) print_row(r.name, r.seconds, r.bytes);
  fmt::print("\naccounting overhead: {:+.1f}% of the fused loss\n",
             100 * (rows[1].seconds / rows[0].seconds - 1));
  if (!tv) fmt::print("torchvision not measured: {}\n", why);
  return kExitOk;
}

}  // namespace

int bench_command(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    fmt::print("Usage: focalab bench loss [options]\n\n  loss   focal loss forward + backward "
               "against torchvision\n\nExample:\n  focalab bench loss --threads 2\n");
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "loss") return bench_loss(Args(args.begin() + 1, args.end()));
  throw UsageError(fmt::format("bench: unknown benchmark '{}' (allowed: loss)", args[0]));
}

}  // namespace focalab::cli
