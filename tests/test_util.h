#pragma once
// Helpers shared by the tests.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace focalab::testing {

// Element-wise comparison with a readable failure message.
inline void expect_tensor_near(const torch::Tensor& actual, const torch::Tensor& expected,
                               double atol = 1e-5) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  auto a = actual.to(torch::kDouble).flatten();
  auto e = expected.to(torch::kDouble).flatten();
  for (int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_NEAR(a[i].item<double>(), e[i].item<double>(), atol) << "at flat index " << i;
  }
}

// A fresh temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "focalab-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace focalab::testing
