// torch.save reader / writer. Fixtures tests/data/tiny_{zip,legacy}.pth were written by Python
// torch 1.13 (tests/data/make_fixtures.py); the expected values below are the ones that script
// puts in.

#include <caffe2/serialize/inline_container.h>

#include <fstream>
#include <regex>

#include "harness/interop/torch_file.h"
#include "harness/interop/weights.h"
#include "harness/util/errors.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

std::map<std::string, torch::Tensor> as_map(const StateDict& state) {
  std::map<std::string, torch::Tensor> m;
  for (const auto& [k, v] : state) m.emplace(k, v);
  return m;
}

void expect_fixture(const std::string& path) {
  SCOPED_TRACE(path);
  const StateDict state = read_state_dict(path);
  // File order is kept; the int entry "epoch" is skipped; nested dicts are flattened.
  std::vector<std::string> names;
  for (const auto& [k, v] : state) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "counts", "half", "mask", "scalar",
                                             "empty", "base", "view", "nested.x"}));
  auto m = as_map(state);
  EXPECT_TRUE(torch::equal(m["conv.weight"],
                           torch::tensor({{1.5f, -2.0f, 3.25f}, {0.0f, 1e-8f, -7.0f}})));
  EXPECT_EQ(m["counts"].scalar_type(), torch::kLong);
  EXPECT_EQ(m["counts"][1][2].item<int64_t>(), 5000000000000);
  EXPECT_EQ(m["half"].scalar_type(), torch::kHalf);
  EXPECT_EQ(m["half"][1].item<float>(), -1.25f);
  EXPECT_TRUE(torch::equal(m["mask"], torch::tensor({true, false, true})));
  EXPECT_EQ(m["scalar"].dim(), 0);
  EXPECT_EQ(m["scalar"].item<float>(), 42.0f);
  EXPECT_EQ(m["empty"].sizes(), (std::vector<int64_t>{0, 4}));
  // base = arange(10) * 0.5 - 1; view = base[1::3] shares its storage
  EXPECT_TRUE(torch::equal(m["view"], torch::tensor({-0.5f, 1.0f, 2.5f})));
  EXPECT_EQ(m["view"].stride(0), 3);
  EXPECT_EQ(m["base"][9].item<float>(), 3.5f);
  EXPECT_EQ(m["nested.x"].item<float>(), 9.0f);
}

TEST(TorchFile, ReadsZipFormatWrittenByTorchSave) {
  expect_fixture(std::string(FOCALAB_SOURCE_DIR) + "/tests/data/tiny_zip.pth");
}

TEST(TorchFile, ReadsLegacyFormatWrittenByTorchSave) {
  expect_fixture(std::string(FOCALAB_SOURCE_DIR) + "/tests/data/tiny_legacy.pth");
}

TEST(TorchFile, WriteThenReadRoundTrips) {
  testing::TempDir dir;
  StateDict state = {{"a.weight", torch::randn({3, 4, 2})},
                     {"a.t", torch::randn({4, 3}).t()},  // non-contiguous: saved contiguous
                     {"n", torch::tensor({1, 2, 3}, torch::kLong)},
                     {"b", torch::tensor({true, false})},
                     {"s", torch::tensor(2.5)},
                     {"e", torch::zeros({0})}};
  write_state_dict(dir.file("x.pth"), state);
  const StateDict back = read_state_dict(dir.file("x.pth"));
  ASSERT_EQ(back.size(), state.size());
  for (size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(back[i].first, state[i].first);
    EXPECT_EQ(back[i].second.scalar_type(), state[i].second.scalar_type()) << state[i].first;
    EXPECT_TRUE(torch::equal(back[i].second, state[i].second)) << state[i].first;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.pth.tmp")));
}

// Every malformed input is a DataError that names the file; none crashes.
TEST(TorchFile, BadFilesAreDataErrors) {
  testing::TempDir dir;
  const std::string src = std::string(FOCALAB_SOURCE_DIR) + "/tests/data/";
  auto bytes_of = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string zip = bytes_of(src + "tiny_zip.pth");
  const std::string legacy = bytes_of(src + "tiny_legacy.pth");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.pth", ""},
      {"text.pth", "hello, not a checkpoint\n"},
      {"zip_truncated.pth", zip.substr(0, zip.size() / 2)},
      {"legacy_truncated.pth", legacy.substr(0, legacy.size() - 40)},
      {"legacy_head.pth", legacy.substr(0, 30)},
      {"pickle_only.pth", std::string("\x80\x02K\x05.", 5)},  // pickle of the int 5
      {"bad_opcode.pth", std::string("\x80\x02\xff", 3)},
      // a dict that holds itself: d = {}; d["a"] = d
      {"cyclic.pth", std::string("\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s.", 15)},
      // 1000 nested lists
      {"deep.pth", "\x80\x02" + std::string(1000, ']') + std::string(999, 'a') + "."},
  };
  for (const auto& [name, content] : cases) {
    SCOPED_TRACE(name);
    const std::string path = dir.write(name, content);
    try {
      read_state_dict(path);
      ADD_FAILURE() << "no error for " << name;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(read_state_dict(dir.file("missing.pth")), DataError);
}

// ---------------------------------------------------------------------------------------------
// Hostile pickles and archives: bounded depth, bounded stacks, declared sizes checked against the
// bytes present before anything is allocated.

// `what` contains a match of the regular expression `pattern`.
bool matches(const std::string& what, const std::string& pattern) {
  return std::regex_search(what, std::regex(pattern));
}

std::string le32(uint32_t v) {
  std::string s(4, '\0');
  for (int k = 0; k < 4; ++k) s[k] = static_cast<char>(v >> (8 * k));
  return s;
}
std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int k = 0; k < 8; ++k) s[k] = static_cast<char>(v >> (8 * k));
  return s;
}
std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t k = 0; k < n; ++k) out += s;
  return out;
}

// The DataError message of reading the file at `path` (one line naming it), "" when it loads.
std::string read_archive_error(const std::string& path) {
  try {
    read_state_dict(path);
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    return what;
  }
  return "";
}

// The DataError message of reading `content` (written to `name`), "" when it loads.
std::string read_error(const testing::TempDir& dir, const std::string& name,
                       const std::string& content) {
  return read_archive_error(dir.write(name, content));
}

// `step` builds one more level around the container in memo 0 (BINGET 0 = "h\0") and puts the
// new one back there (BINPUT 0 = "q\0", POP = "0"), so MARKs never nest: only the containers do.
std::string nested_pickle(const std::string& first, const std::string& step, size_t levels) {
  return "\x80\x02" + first + std::string("q\0" "0", 3) + repeat(step + std::string("q\0" "0", 3),
                                                                  levels) +
         std::string("h\0.", 3);
}

// 100,000 levels of every container-building opcode are refused at depth 200 (each of these
// crashed the reader with a stack overflow, or was accepted).
TEST(TorchFile, EveryContainerOpcodeIsDepthBounded) {
  testing::TempDir dir;
  const size_t n = 100000;
  const std::string get0("h\0", 2), k0("K\0", 2);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"list.pth", nested_pickle("(l", "(" + get0 + "l", n)},                   // MARK ... LIST
      {"frozenset.pth", nested_pickle("(\x91", "(" + get0 + "\x91", n)},        // FROZENSET
      {"dict.pth", nested_pickle("}", "(" + k0 + get0 + "d", n)},               // DICT value
      {"dict_key.pth", nested_pickle("(l", "(" + get0 + k0 + "d", n)},          // DICT key
      {"setitem.pth", nested_pickle("}", "}" + k0 + get0 + "s", n)},            // SETITEM
      {"setitems.pth", nested_pickle("}", "}(" + k0 + get0 + "u", n)},          // SETITEMS
      {"append.pth", nested_pickle("]", "]" + get0 + "a", n)},                  // APPEND
      {"appends.pth", nested_pickle("]", "](" + get0 + "e", n)},                // APPENDS
      {"additems.pth", nested_pickle("\x8f", "\x8f(" + get0 + "\x90", n)},      // ADDITEMS
      {"tuple.pth", nested_pickle(")", "(" + get0 + "t", n)},                   // TUPLE
      {"tuple1.pth", nested_pickle(")", get0 + "\x85", n)},                     // TUPLE1
      {"tuple3.pth", nested_pickle(")", get0 + get0 + get0 + "\x87", n)},       // TUPLE3
      // OrderedDict([(0, inner)]) by REDUCE
      {"reduce.pth",
       nested_pickle("}", "ccollections\nOrderedDict\n(((" + k0 + get0 + "tltR", n)},
      // the plain forms: 100,000 MARKs, 100,000 EMPTY_LISTs then APPENDs
      {"marks.pth", "\x80\x02" + std::string(n, '(') + std::string(n, 'l') + "."},
      {"empty_lists.pth", "\x80\x02" + std::string(n, ']') + std::string(n - 1, 'a') + "."},
  };
  for (const auto& [name, content] : cases) {
    SCOPED_TRACE(name);
    EXPECT_PRED2(matches, read_error(dir, name, content), "(nested|MARKs open) deeper than 200");
  }
  // 150 levels are within the bound: the file is refused only for what it is not (a torch.save
  // file's first pickle is the magic number).
  EXPECT_PRED2(matches, read_error(dir, "shallow.pth", nested_pickle("(l", "(" + get0 + "l", 150)),
               "wrong magic number");
}

// Depth is measured when a container is put into another; a container changed after that would
// make the measure stale (and allow cycles), so it is refused.
TEST(TorchFile, ContainersChangedAfterNestingAreRefused) {
  testing::TempDir dir;
  const uint32_t n = 100000;
  auto get = [](uint32_t k) { return "j" + le32(k); };  // LONG_BINGET
  std::string lists = "\x80\x02";
  for (uint32_t k = 0; k <= n; ++k) lists += "]r" + le32(k) + "0";  // EMPTY_LIST, LONG_BINPUT
  // L0.append(L1), L1.append(L2), ...: each list holds one list, the chain is n deep
  std::string forward = lists;
  for (uint32_t k = 0; k < n; ++k) forward += get(k) + get(k + 1) + "a0";
  EXPECT_PRED2(matches, read_error(dir, "forward.pth", forward + get(0) + "."),
               "changed after it was put into another");
  // ... and from the innermost out: the depth grows by one each time
  std::string backward = lists;
  for (uint32_t k = n; k-- > 0;) backward += get(k) + get(k + 1) + "a0";
  EXPECT_PRED2(matches, read_error(dir, "backward.pth", backward + get(0) + "."),
               "nested deeper than 200");
  // a = []; b = []; a.append(b); b.append(a): a cycle through two lists
  const std::string cycle = "\x80\x02" + std::string("]q\0" "0]q\1" "0", 8) + get(0) + get(1) +
                            "a0" + get(1) + get(0) + "a0" + get(0) + ".";
  EXPECT_PRED2(matches, read_error(dir, "cycle.pth", cycle),
               "changed after it was put into another");
}

TEST(TorchFile, StackMarksMemoAndObjectsAreBounded) {
  testing::TempDir dir;
  // MARKs without anything between them
  EXPECT_PRED2(matches, read_error(dir, "marks.pth", "\x80\x02" + std::string(100000, '(') + "."),
               "MARKs open deeper than 200");
  // 2^17 + 1 Nones on the stack
  EXPECT_PRED2(matches,
               read_error(dir, "stack.pth", "\x80\x02" + std::string((1 << 17) + 1, 'N') + "."),
               "more than 131072 values on the pickle stack");
  // 2^20 + 1 objects, 1000 at a time into one list (the stack stays small)
  EXPECT_PRED2(matches,
               read_error(dir, "objects.pth",
                          "\x80\x02]" + repeat("(" + std::string(1000, 'N') + "e", 1050) + "."),
               "more than 1048576 objects");
  // one object under 2^20 + 1 memo keys
  std::string memo = "\x80\x02N";
  for (uint32_t k = 0; k <= (1u << 20); ++k) memo += "r" + le32(k);
  EXPECT_PRED2(matches, read_error(dir, "memo.pth", memo + "."),
               "more than 1048576 memo entries");
}

// A PyTorchStreamWriter archive (the layout torch.save writes) of `pkl` and the storage records.
std::string write_archive(const testing::TempDir& dir, const std::string& name,
                          const std::string& pkl,
                          const std::vector<std::pair<std::string, std::string>>& records,
                          bool compress = false) {
  const std::string path = dir.file(name);
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  writer.writeRecord("byteorder", "little", 6);
  for (const auto& [key, bytes] : records) {
    writer.writeRecord("data/" + key, bytes.data(), bytes.size(), compress);
  }
  writer.writeEndOfFile();
  return path;
}


// {"w": a tensor of `sizes` and `strides` over storage "0" of `numel` floats}, as torch.save
// pickles it.
std::string tensor_pickle(int64_t numel, const std::vector<int64_t>& sizes,
                          const std::vector<int64_t>& strides) {
  auto ints = [](const std::vector<int64_t>& v) {
    std::string s = "(";
    for (int64_t x : v) s += "\x8a\x08" + le64(static_cast<uint64_t>(x));  // LONG1, 8 bytes
    return s + "t";
  };
  return "\x80\x02}(X" + le32(1) + "w" + "ctorch._utils\n_rebuild_tensor_v2\n(" +
         "(X" + le32(7) + "storage" + "ctorch\nFloatStorage\n" + "X" + le32(1) + "0" + "X" +
         le32(3) + "cpu" + "\x8a\x08" + le64(static_cast<uint64_t>(numel)) + "tQ" +
         std::string("K\0", 2) + ints(sizes) + ints(strides) + "\x89" +
         "ccollections\nOrderedDict\n)R" + "tR" + "u.";
}

TEST(TorchFile, DeclaredSizesAreCheckedAgainstTheBytesPresent) {
  testing::TempDir dir;
  const std::string four_floats(16, '\0');
  // the hand-made archive loads when its sizes are honest
  const StateDict ok =
      read_state_dict(write_archive(dir, "ok.pth", tensor_pickle(4, {2, 2}, {2, 1}),
                                    {{"0", four_floats}}));
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].second.sizes(), (std::vector<int64_t>{2, 2}));
  // 2^40 elements over a storage of 4 (stride 0): no view larger than its storage
  EXPECT_PRED2(matches,
               read_archive_error(write_archive(dir, "expand.pth",
                                                tensor_pickle(4, {1 << 20, 1 << 20}, {0, 0}),
                                                {{"0", four_floats}})),
               "1099511627776 elements, more than the 4 of its storage");
  // the pickle declares 2^40 floats, the record holds 4
  EXPECT_PRED2(matches,
               read_archive_error(write_archive(dir, "numel.pth",
                                                tensor_pickle(int64_t{1} << 40, {2}, {1}),
                                                {{"0", four_floats}})),
               "declares 1099511627776 elements, its record holds 16 bytes");
  // a compressed record of 16 MiB zeros: its declared size is 1000 times the file's
  const std::string zeros(16 << 20, '\0');
  const std::string bomb = write_archive(dir, "bomb.pth", tensor_pickle(4 << 20, {4 << 20}, {1}),
                                         {{"0", zeros}}, /*compress=*/true);
  ASSERT_LT(std::filesystem::file_size(bomb), 1u << 20);
  EXPECT_PRED2(matches, read_archive_error(bomb), "unpack to more than");
  // a stored record whose directory entry claims 2 GB
  std::string bytes;
  {
    std::ifstream in(dir.file("ok.pth"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string entry = "PK\x01\x02";
  // the central directory entry of the last record, "version", which the archive reader reads
  // as it opens the file
  const size_t at = bytes.rfind(entry);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at + 24, 4, le32(0x7ffffff0));  // uncompressed size
  EXPECT_PRED2(matches, read_error(dir, "claims.pth", bytes), "unpack to more than");
  // strings and storages longer than the file
  EXPECT_PRED2(matches,
               read_error(dir, "string.pth", "\x80\x02\x8d" + le64(uint64_t{1} << 62) + "x."),
               "exceeds the file|truncated");
  EXPECT_PRED2(matches, read_error(dir, "bytes.pth", "\x80\x02\x42" + le32(0xffffffff) + "x."),
               "exceeds the file|truncated");
}

TEST(Weights, TorchvisionNamesMapToFocalab) {
  EXPECT_EQ(torchvision_to_focalab_name("backbone.body.layer1.0.bn1.running_var", false),
            "backbone.layer1.0.bn1.running_var");
  EXPECT_EQ(torchvision_to_focalab_name("module.backbone.body.conv1.weight", false),
            "backbone.conv1.weight");
  EXPECT_EQ(torchvision_to_focalab_name("backbone.fpn.inner_blocks.2.0.weight", false),
            "fpn.inner_blocks.2.weight");
  EXPECT_EQ(torchvision_to_focalab_name("backbone.fpn.layer_blocks.1.bias", false),
            "fpn.layer_blocks.1.bias");  // torchvision < 0.13
  EXPECT_EQ(torchvision_to_focalab_name("backbone.fpn.extra_blocks.p6.weight", false),
            "fpn.p6.weight");
  // torchvision >= 0.13 heads: conv.j.0 is the j-th conv; focalab's Sequential interleaves ReLU
  EXPECT_EQ(torchvision_to_focalab_name("head.classification_head.conv.3.0.weight", false),
            "head.classification_head.conv.6.weight");
  // v2 heads: conv.j.1 is GroupNorm, focalab's (conv, GN, ReLU) triples
  EXPECT_EQ(torchvision_to_focalab_name("head.regression_head.conv.2.1.bias", true),
            "head.regression_head.conv.7.bias");
  EXPECT_EQ(torchvision_to_focalab_name("head.classification_head.conv.4.weight", false),
            "head.classification_head.conv.4.weight");  // torchvision < 0.13
  EXPECT_EQ(torchvision_to_focalab_name("head.regression_head.bbox_reg.bias", false),
            "head.regression_head.bbox_reg.bias");
  EXPECT_EQ(torchvision_to_focalab_name("roi_heads.box_predictor.cls_score.weight", false), "");
}

// A focalab checkpoint loads back into the same model; one for a different class count is
// refused with the mis-shaped keys named.
TEST(Weights, FocalabCheckpointRoundTripAndShapeErrors) {
  testing::TempDir dir;
  models::RetinaNetOptions o;
  o.backbone.preset = "tiny";
  o.fpn.out_channels = 32;
  o.head.num_classes = 3;
  o.head.num_convs = 1;
  torch::manual_seed(1);
  models::RetinaNet a(o);
  write_model_weights(a, dir.file("a.pth"));
  torch::manual_seed(2);
  models::RetinaNet b(o);
  EXPECT_EQ(load_model_weights(b, dir.file("a.pth")), "focalab");
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  const auto head = infer_head_shape(read_state_dict(dir.file("a.pth")));
  EXPECT_EQ(head.num_classes, 3);
  EXPECT_EQ(head.num_convs, 1);

  o.head.num_classes = 5;
  models::RetinaNet c(o);
  try {
    load_model_weights(c, dir.file("a.pth"));
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("head.classification_head.cls_logits.weight"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace focalab::harness
