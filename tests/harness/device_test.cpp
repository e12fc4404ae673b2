// configure_threads: bounds on the thread count, and subnormal floats flushed to zero on every
// thread LibTorch computes on (cross-entropy training ran 2x slower on x86 as its sigmoid
// gradients underflowed into subnormals: docs/BENCHMARKS.md).

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#include "harness/run/device.h"
#include "harness/util/errors.h"

namespace focalab::harness {
namespace {

TEST(Device, ThreadCountsBeyondTheMachineAreRefused) {
  EXPECT_THROW(configure_threads(-1), UsageError);
  EXPECT_THROW(configure_threads(max_threads() + 1), UsageError);
  EXPECT_THROW(configure_threads(int64_t{2147483648}), UsageError);
  EXPECT_GE(max_threads(), 16);
  EXPECT_EQ(configure_threads(2), 2);
}

TEST(Device, SubnormalsAreFlushedOnEveryThread) {
#if defined(__x86_64__)
  ::unsetenv("FOCALAB_DENORMALS");
  configure_threads(2);
  // 1e-39 is subnormal in float32 (the smallest normal is 1.18e-38): read as 0 with DAZ, and
  // products below the normal range written as 0 with FTZ — on the threads of at::parallel_for
  // (a large tensor is split between them) as on this one.
  const auto tiny = torch::full({1 << 20}, 1e-39f);
  EXPECT_EQ((tiny * 2.0f).abs().max().item<float>(), 0.0f);
  EXPECT_EQ((torch::full({1 << 20}, 1e-20f) * 1e-20f).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(1e-20f * static_cast<float>(std::rand() % 2 + 1) * 1e-20f, 0.0f);
  ::setenv("FOCALAB_DENORMALS", "keep", 1);
  EXPECT_FALSE(flush_denormals());
  ::unsetenv("FOCALAB_DENORMALS");
  EXPECT_TRUE(flush_denormals());
#else
  GTEST_SKIP() << "SKIPPED: FTZ/DAZ are set on x86 only";
#endif
}

}  // namespace
}  // namespace focalab::harness
