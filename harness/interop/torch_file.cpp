#include "harness/interop/torch_file.h"

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <cerrno>
#include <fstream>
#include <functional>
#include <map>
#include <unordered_map>
#include <memory>

#include "harness/util/errors.h"
#include "harness/util/paths.h"

namespace focalab::harness {
inline namespace interop {

namespace {

// ---------------------------------------------------------------------------------------------
// A minimal Python object model for the unpickler.

struct PyObj;
using PyRef = std::shared_ptr<PyObj>;

struct PyObj {
  enum class Kind { kNone, kBool, kInt, kBigInt, kFloat, kStr, kBytes, kTuple, kList, kDict,
                    kGlobal, kStorage, kTensor, kOpaque, kMark };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // str, bytes, big int (little-endian bytes), global "module.name", opaque name
  std::vector<PyRef> items;                      // tuple, list
  std::vector<std::pair<PyRef, PyRef>> entries;  // dict, in insertion order
  std::unordered_map<std::string, size_t> index;  // dict: key -> position in entries
  torch::Tensor tensor;                          // storage (1-d) or tensor
  int depth = 0;                                 // nesting depth of containers below
  bool contained = false;                        // put into a container: no longer changes
};

// Limits on what a pickle can make the reader build. A state_dict written by torch.save nests
// 3 to 5 levels deep, keeps at most about 2000 values on the stack (Python's pickler sets dict
// items 1000 at a time; focalab's writer puts every tensor in one SETITEMS) and creates about a
// dozen objects per tensor, so these refuse no real checkpoint while a file of a few megabytes
// can no longer make the reader recurse without bound (the destructors of a 100,000-deep list
// overflowed the stack) or allocate in proportion to anything but its own size.
//  - Containers nest at most kMaxDepth deep, and so do open MARKs. Depth is measured when a
//    container is put into another; a container changed after that is refused (torch.save fills
//    every container before it is used; only recursive structures do otherwise), so the measure
//    stays exact and no object graph has a cycle.
//  - At most kMaxStack values on the stack, kMaxObjects objects created and kMaxObjects memo
//    entries per file: an object costs about 230 bytes, so the reader's own memory stays under
//    about 250 MB (measured) whatever the file holds; strings and bytes are refused when they
//    claim more than the rest of the file.
constexpr int kMaxDepth = 200;
constexpr size_t kMaxStack = size_t{1} << 17;    // 131,072
constexpr size_t kMaxObjects = size_t{1} << 20;  // 1,048,576

const char* kind_name(PyObj::Kind k) {
  switch (k) {
    case PyObj::Kind::kNone: return "None";
    case PyObj::Kind::kBool: return "bool";
    case PyObj::Kind::kInt: return "int";
    case PyObj::Kind::kBigInt: return "int";
    case PyObj::Kind::kFloat: return "float";
    case PyObj::Kind::kStr: return "str";
    case PyObj::Kind::kBytes: return "bytes";
    case PyObj::Kind::kTuple: return "tuple";
    case PyObj::Kind::kList: return "list";
    case PyObj::Kind::kDict: return "dict";
    case PyObj::Kind::kGlobal: return "class";
    case PyObj::Kind::kStorage: return "storage";
    case PyObj::Kind::kTensor: return "tensor";
    case PyObj::Kind::kOpaque: return "object";
    case PyObj::Kind::kMark: return "mark";
  }
  return "?";
}

// Raised inside the reader; turned into a DataError naming the file at the API boundary.
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

torch::ScalarType storage_dtype(const std::string& global) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"torch.FloatStorage", torch::kFloat},       {"torch.DoubleStorage", torch::kDouble},
      {"torch.HalfStorage", torch::kHalf},         {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kLong},         {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort},       {"torch.CharStorage", torch::kChar},
      {"torch.ByteStorage", torch::kByte},         {"torch.BoolStorage", torch::kBool},
      {"torch.ComplexFloatStorage", torch::kComplexFloat},
      {"torch.ComplexDoubleStorage", torch::kComplexDouble},
  };
  auto it = kTypes.find(global);
  if (it == kTypes.end()) {
    throw FormatError(fmt::format("unsupported storage type {} (allowed: float, double, half, "
                                  "bfloat16, integer, bool and complex storages)", global));
  }
  return it->second;
}

// Resolves a persistent id ('storage', type, key, location, numel[, view]) to a 1-d tensor.
using StorageLoader = std::function<torch::Tensor(const std::string& key, torch::ScalarType dtype,
                                                  int64_t numel)>;

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, StorageLoader loader)
      : data_(data), size_(size), loader_(std::move(loader)) {}

  size_t position() const { return pos_; }
  void seek(size_t pos) { pos_ = pos; }

  // Parses one pickle starting at the current position, up to and including STOP.
  PyRef load() {
    stack_.clear();
    marks_.clear();
    memo_.clear();
    for (;;) {
      const size_t at = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                       // PROTO
        case 0x95: take(8); break;                    // FRAME
        case 0x2e: return finish(at);                 // STOP
        case 0x28: push_mark(); break;                // MARK
        case 0x30: pop(); break;                      // POP
        case 0x31: pop_mark(); break;                 // POP_MARK
        case 0x32: push(top()); break;                // DUP
        case 0x4e: push(make(PyObj::Kind::kNone)); break;  // NONE
        case 0x88: push_bool(true); break;            // NEWTRUE
        case 0x89: push_bool(false); break;           // NEWFALSE
        case 0x4a: push(make_int(static_cast<int32_t>(le(4)))); break;  // BININT
        case 0x4b: push(make_int(static_cast<int64_t>(le(1)))); break;  // BININT1
        case 0x4d: push(make_int(static_cast<int64_t>(le(2)))); break;  // BININT2
        case 0x8a: push_long(le(1)); break;           // LONG1
        case 0x8b: push_long(le(4)); break;           // LONG4
        case 0x49: push_text_int(); break;            // INT
        case 0x4c: push_text_int(); break;            // LONG
        case 0x47: push_binfloat(); break;            // BINFLOAT
        case 0x46: push_text_float(); break;          // FLOAT
        case 0x58: push(make_str(PyObj::Kind::kStr, take_str(le(4)))); break;   // BINUNICODE
        case 0x8c: push(make_str(PyObj::Kind::kStr, take_str(le(1)))); break;   // SHORT_BINUNICODE
        case 0x8d: push(make_str(PyObj::Kind::kStr, take_str(le(8)))); break;   // BINUNICODE8
        case 0x54: push(make_str(PyObj::Kind::kStr, take_str(le(4)))); break;   // BINSTRING
        case 0x55: push(make_str(PyObj::Kind::kStr, take_str(le(1)))); break;   // SHORT_BINSTRING
        case 0x42: push(make_str(PyObj::Kind::kBytes, take_str(le(4)))); break;  // BINBYTES
        case 0x43: push(make_str(PyObj::Kind::kBytes, take_str(le(1)))); break;  // SHORT_BINBYTES
        case 0x8e: push(make_str(PyObj::Kind::kBytes, take_str(le(8)))); break;  // BINBYTES8
        case 0x96: push(make_str(PyObj::Kind::kBytes, take_str(le(8)))); break;  // BYTEARRAY8
        case 0x29: push(make(PyObj::Kind::kTuple)); break;  // EMPTY_TUPLE
        case 0x85: push_tuple(1); break;              // TUPLE1
        case 0x86: push_tuple(2); break;              // TUPLE2
        case 0x87: push_tuple(3); break;              // TUPLE3
        case 0x74: {                                  // TUPLE
          auto t = make(PyObj::Kind::kTuple);
          t->items = pop_mark();
          for (const auto& item : t->items) nest(t, item);
          push(t);
          break;
        }
        case 0x5d: push(make(PyObj::Kind::kList)); break;  // EMPTY_LIST
        case 0x6c: {                                  // LIST
          auto l = make(PyObj::Kind::kList);
          l->items = pop_mark();
          for (const auto& item : l->items) nest(l, item);
          push(l);
          break;
        }
        case 0x7d: push(make(PyObj::Kind::kDict)); break;  // EMPTY_DICT
        case 0x64: {                                  // DICT
          auto d = make(PyObj::Kind::kDict);
          set_items(d, pop_mark());
          push(d);
          break;
        }
        case 0x8f: push(make(PyObj::Kind::kList)); break;  // EMPTY_SET (as a list)
        case 0x90: {                                  // ADDITEMS
          auto items = pop_mark();
          append_all(top(), items);
          break;
        }
        case 0x91: {                                  // FROZENSET
          auto l = make(PyObj::Kind::kList);
          l->items = pop_mark();
          for (const auto& item : l->items) nest(l, item);
          push(l);
          break;
        }
        case 0x61: {                                  // APPEND
          auto v = pop();
          append_all(top(), {v});
          break;
        }
        case 0x65: {                                  // APPENDS
          auto items = pop_mark();
          append_all(top(), items);
          break;
        }
        case 0x73: {                                  // SETITEM
          auto v = pop();
          auto k = pop();
          set_items(top(), {k, v});
          break;
        }
        case 0x75: {                                  // SETITEMS
          auto items = pop_mark();
          set_items(top(), items);
          break;
        }
        case 0x71: memo_put(le(1)); break;            // BINPUT
        case 0x72: memo_put(le(4)); break;            // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;     // MEMOIZE
        case 0x70: memo_put(text_uint()); break;      // PUT
        case 0x68: push(memo_get(le(1))); break;      // BINGET
        case 0x6a: push(memo_get(le(4))); break;      // LONG_BINGET
        case 0x67: push(memo_get(text_uint())); break;  // GET
        case 0x63: {                                  // GLOBAL
          std::string module = take_line();
          std::string name = take_line();
          push(make_str(PyObj::Kind::kGlobal, module + "." + name));
          break;
        }
        case 0x93: {                                  // STACK_GLOBAL
          auto name = pop();
          auto module = pop();
          push(make_str(PyObj::Kind::kGlobal, module->s + "." + name->s));
          break;
        }
        case 0x52: {                                  // REDUCE
          auto args = pop();
          auto callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 0x81: {                                  // NEWOBJ
          pop();
          auto cls = pop();
          push(make_str(PyObj::Kind::kOpaque, cls->s));
          break;
        }
        case 0x92: {                                  // NEWOBJ_EX
          pop();
          pop();
          auto cls = pop();
          push(make_str(PyObj::Kind::kOpaque, cls->s));
          break;
        }
        case 0x62: pop(); break;                      // BUILD: object state is not needed
        case 0x51: push(persistent_load(pop())); break;  // BINPERSID
        default:
          throw FormatError(fmt::format("unsupported pickle opcode 0x{:02x} at byte {} (focalab "
                                        "reads the pickle subset torch.save writes)", op, at));
      }
    }
  }

 private:
  PyRef finish(size_t at) {
    if (stack_.size() != 1 || !marks_.empty()) {
      throw FormatError(fmt::format("malformed pickle: {} objects left on the stack at STOP "
                                    "(byte {})", stack_.size(), at));
    }
    return stack_.back();
  }

  void need(size_t n) const {
    if (n > size_ - pos_) {
      throw FormatError(fmt::format("truncated: needed {} more bytes at byte {} of {}", n, pos_,
                                    size_));
    }
  }
  uint8_t u8() {
    need(1);
    return data_[pos_++];
  }
  const uint8_t* take(size_t n) {
    need(n);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint64_t le(size_t n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
    return v;
  }
  std::string take_str(uint64_t n) {
    if (n > size_) throw FormatError(fmt::format("string length {} exceeds the file", n));
    const uint8_t* p = take(static_cast<size_t>(n));
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }
  std::string take_line() {
    std::string s;
    for (;;) {
      const char c = static_cast<char>(u8());
      if (c == '\n') return s;
      s.push_back(c);
      if (s.size() > 4096) throw FormatError("malformed pickle: unterminated text field");
    }
  }
  uint64_t text_uint() {
    const std::string s = take_line();
    try {
      return std::stoull(s);
    } catch (const std::exception&) {
      throw FormatError(fmt::format("malformed pickle: bad memo index '{}'", s));
    }
  }

  void push(PyRef o) {
    if (stack_.size() >= kMaxStack) {
      throw FormatError(fmt::format("malformed pickle: more than {} values on the pickle stack "
                                    "(torch.save keeps a few thousand)", kMaxStack));
    }
    stack_.push_back(std::move(o));
  }
  void push_mark() {
    if (marks_.size() >= static_cast<size_t>(kMaxDepth)) {
      throw FormatError(fmt::format("malformed pickle: MARKs open deeper than {}", kMaxDepth));
    }
    marks_.push_back(stack_.size());
  }
  void memo_put(uint64_t key) {
    if (memo_.size() >= kMaxObjects && !memo_.count(key)) {
      throw FormatError(fmt::format("malformed pickle: more than {} memo entries", kMaxObjects));
    }
    memo_[key] = top();
  }
  // Every object the pickle creates, counted against kMaxObjects.
  PyRef make(PyObj::Kind kind) {
    if (++objects_ > kMaxObjects) {
      throw FormatError(fmt::format("malformed pickle: more than {} objects (a state_dict has "
                                    "about a dozen per tensor)", kMaxObjects));
    }
    auto o = std::make_shared<PyObj>();
    o->kind = kind;
    return o;
  }
  PyRef make_int(int64_t v) {
    auto o = make(PyObj::Kind::kInt);
    o->i = v;
    return o;
  }
  PyRef make_str(PyObj::Kind kind, std::string s) {
    auto o = make(kind);
    o->s = std::move(s);
    return o;
  }
  void push_bool(bool v) {
    auto o = make(PyObj::Kind::kBool);
    o->b = v;
    push(o);
  }
  void push_long(uint64_t n) {
    const std::string bytes = take_str(n);
    if (n <= 8) {
      uint64_t v = 0;
      for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[k])) << (8 * k);
      if (n > 0 && n < 8 && (static_cast<uint8_t>(bytes[n - 1]) & 0x80)) {
        v |= ~uint64_t{0} << (8 * n);  // sign-extend
      }
      push(make_int(static_cast<int64_t>(v)));
    } else {
      push(make_str(PyObj::Kind::kBigInt, bytes));
    }
  }
  void push_text_int() {
    std::string s = take_line();
    if (!s.empty() && s.back() == 'L') s.pop_back();
    if (s == "01" || s == "00") {
      push_bool(s == "01");
      return;
    }
    try {
      push(make_int(std::stoll(s)));
    } catch (const std::exception&) {
      throw FormatError(fmt::format("malformed pickle: bad integer '{}'", s));
    }
  }
  void push_binfloat() {
    const uint8_t* p = take(8);
    uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];  // big-endian
    auto o = make(PyObj::Kind::kFloat);
    std::memcpy(&o->f, &bits, sizeof(double));
    push(o);
  }
  void push_text_float() {
    const std::string s = take_line();
    auto o = make(PyObj::Kind::kFloat);
    try {
      o->f = std::stod(s);
    } catch (const std::exception&) {
      throw FormatError(fmt::format("malformed pickle: bad float '{}'", s));
    }
    push(o);
  }
  void push_tuple(size_t n) {
    if (stack_.size() < n + (marks_.empty() ? 0 : marks_.back())) {
      throw FormatError("malformed pickle: tuple of more items than the stack holds");
    }
    auto t = make(PyObj::Kind::kTuple);
    t->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    for (const auto& item : t->items) nest(t, item);
    push(t);
  }
  PyRef pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      throw FormatError("malformed pickle: pop from an empty stack");
    }
    auto o = stack_.back();
    stack_.pop_back();
    return o;
  }
  PyRef top() const {
    if (stack_.empty()) throw FormatError("malformed pickle: empty stack");
    return stack_.back();
  }
  std::vector<PyRef> pop_mark() {
    if (marks_.empty()) throw FormatError("malformed pickle: no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  PyRef memo_get(uint64_t key) const {
    auto it = memo_.find(key);
    if (it == memo_.end()) throw FormatError(fmt::format("malformed pickle: memo {} unset", key));
    return it->second;
  }
  // Records that `child` is put into `target`. Every opcode that puts a value into a container
  // (TUPLE*, LIST, DICT, FROZENSET, APPEND(S), SETITEM(S), ADDITEMS and REDUCE's dicts) goes
  // through here, so the depth bound holds for all of them.
  static void nest(const PyRef& target, const PyRef& child) {
    if (child.get() == target.get()) {
      throw FormatError("malformed pickle: a container holds itself");
    }
    target->depth = std::max(target->depth, child->depth + 1);
    if (target->depth > kMaxDepth) {
      throw FormatError(fmt::format("malformed pickle: containers nested deeper than {}",
                                    kMaxDepth));
    }
    child->contained = true;
  }
  // A container that is already inside another may not change: its depth was counted when it
  // was put there.
  static void check_unchanged(const PyRef& target) {
    if (target->contained) {
      throw FormatError(fmt::format("malformed pickle: a {} changed after it was put into "
                                    "another container (recursive structures are not "
                                    "supported)", kind_name(target->kind)));
    }
  }
  static void append_all(const PyRef& target, const std::vector<PyRef>& items) {
    if (target->kind == PyObj::Kind::kList) {
      check_unchanged(target);
      for (const auto& item : items) nest(target, item);
      target->items.insert(target->items.end(), items.begin(), items.end());
    }  // appends to opaque objects (custom containers) are dropped
  }
  static void set_items(const PyRef& target, const std::vector<PyRef>& kv) {
    if (kv.size() % 2 != 0) throw FormatError("malformed pickle: odd number of dict items");
    if (target->kind != PyObj::Kind::kDict) return;  // items of opaque mappings are dropped
    check_unchanged(target);
    for (size_t k = 0; k < kv.size(); k += 2) {
      nest(target, kv[k]);
      nest(target, kv[k + 1]);
      const std::string key = key_of(kv[k]);
      auto [it, inserted] = target->index.emplace(key, target->entries.size());
      if (inserted) {
        target->entries.emplace_back(kv[k], kv[k + 1]);
      } else {
        target->entries[it->second].second = kv[k + 1];
      }
    }
  }
  // Equal Python keys give equal strings: str and int keys by value, others by identity.
  static std::string key_of(const PyRef& k) {
    if (k->kind == PyObj::Kind::kStr) return "s" + k->s;
    if (k->kind == PyObj::Kind::kInt) return "i" + std::to_string(k->i);
    return "p" + std::to_string(reinterpret_cast<uintptr_t>(k.get()));
  }

  static int64_t as_int(const PyRef& o, const char* what) {
    if (o->kind == PyObj::Kind::kInt) return o->i;
    if (o->kind == PyObj::Kind::kBool) return o->b ? 1 : 0;
    throw FormatError(fmt::format("malformed tensor record: {} is a {}, expected an int", what,
                                  kind_name(o->kind)));
  }
  static std::vector<int64_t> as_ints(const PyRef& o, const char* what) {
    if (o->kind != PyObj::Kind::kTuple && o->kind != PyObj::Kind::kList) {
      throw FormatError(fmt::format("malformed tensor record: {} is a {}, expected a tuple", what,
                                    kind_name(o->kind)));
    }
    std::vector<int64_t> v;
    for (const auto& item : o->items) v.push_back(as_int(item, what));
    return v;
  }

  PyRef reduce(const PyRef& callable, const PyRef& args) {
    const std::string name = callable->kind == PyObj::Kind::kGlobal ? callable->s : "";
    if (name == "collections.OrderedDict" || name == "builtins.dict" ||
        name == "__builtin__.dict") {
      auto d = make(PyObj::Kind::kDict);
      if (!args->items.empty() && args->items[0]->kind == PyObj::Kind::kList) {
        for (const auto& pair : args->items[0]->items) {
          if (pair->items.size() == 2) set_items(d, {pair->items[0], pair->items[1]});
        }
      }
      return d;
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      if (args->items.size() < 4) {
        throw FormatError(fmt::format("malformed tensor record: {} with {} arguments", name,
                                      args->items.size()));
      }
      const PyRef& storage = args->items[0];
      if (storage->kind != PyObj::Kind::kStorage) {
        throw FormatError(fmt::format("malformed tensor record: storage is a {}",
                                      kind_name(storage->kind)));
      }
      const int64_t offset = as_int(args->items[1], "storage offset");
      const auto sizes = as_ints(args->items[2], "size");
      const auto strides = as_ints(args->items[3], "stride");
      if (sizes.size() != strides.size()) {
        throw FormatError(fmt::format("malformed tensor record: {} sizes but {} strides",
                                      sizes.size(), strides.size()));
      }
      int64_t last = offset;
      bool empty = false, overflow = false;
      for (size_t d = 0; d < sizes.size(); ++d) {
        if (sizes[d] < 0 || strides[d] < 0) {
          throw FormatError("malformed tensor record: negative size or stride");
        }
        if (sizes[d] == 0) empty = true;
        int64_t span = 0;
        overflow |= __builtin_mul_overflow(sizes[d] - (sizes[d] > 0 ? 1 : 0), strides[d], &span);
        overflow |= __builtin_add_overflow(last, span, &last);
      }
      if (offset < 0 || overflow || (!empty && last >= storage->tensor.numel())) {
        throw FormatError(fmt::format("tensor of size [{}] at offset {} reads past its storage "
                                      "of {} elements", fmt::join(sizes, ", "), offset,
                                      storage->tensor.numel()));
      }
      // No more elements than the storage holds: a view with zero strides could otherwise
      // declare any number of them over a few bytes, and every copy of it (a dtype conversion,
      // .contiguous()) would allocate them all. torch.save writes parameters and buffers
      // densely; only expanded tensors (a stride of 0) are refused by this.
      int64_t numel = 1;
      bool too_many = false;
      for (int64_t n : sizes) too_many |= __builtin_mul_overflow(numel, n, &numel);
      if (!empty && (too_many || numel > storage->tensor.numel())) {
        throw FormatError(fmt::format("tensor of size [{}] has {} elements, more than the {} of "
                                      "its storage (expanded or overlapping tensors are not "
                                      "supported)", fmt::join(sizes, ", "),
                                      too_many ? std::string("2^63 or more")
                                               : std::to_string(numel),
                                      storage->tensor.numel()));
      }
      auto o = make(PyObj::Kind::kTensor);
      // as_strided takes an absolute offset into the storage; a legacy storage view is itself
      // an offset into its root storage
      o->tensor = empty ? torch::empty(sizes, storage->tensor.options())
                        : storage->tensor.as_strided(sizes, strides,
                                                     storage->tensor.storage_offset() + offset);
      return o;
    }
    if (name == "torch._tensor._rebuild_from_type_v2") {
      // (func, type, args, state): a tensor subclass; the plain tensor is func(*args)
      if (args->items.size() >= 3 && args->items[2]->kind == PyObj::Kind::kTuple) {
        auto inner = reduce(args->items[0], args->items[2]);
        if (inner->kind == PyObj::Kind::kTensor) return inner;
      }
    }
    if (name == "torch.jit._pickle.restore_type_tag") {
      // (value, type string): LibTorch's pickler (torch::pickle_save) tags typed dicts and
      // lists with their TorchScript type; the value is the object
      if (!args->items.empty()) return args->items[0];
    }
    if (name == "torch._utils._rebuild_parameter" ||
        name == "torch._utils._rebuild_parameter_with_state") {
      if (!args->items.empty() && args->items[0]->kind == PyObj::Kind::kTensor) {
        return args->items[0];
      }
    }
    return make_str(PyObj::Kind::kOpaque, name.empty() ? "object" : name);
  }

  PyRef persistent_load(const PyRef& pid) {
    if (pid->kind != PyObj::Kind::kTuple || pid->items.size() < 5 ||
        pid->items[0]->kind != PyObj::Kind::kStr || pid->items[0]->s != "storage") {
      throw FormatError("unsupported persistent id (expected a ('storage', type, key, location, "
                        "numel) record as torch.save writes)");
    }
    const PyRef& type = pid->items[1];
    if (type->kind != PyObj::Kind::kGlobal) throw FormatError("malformed storage record: type");
    const torch::ScalarType dtype = storage_dtype(type->s);
    const PyRef& key = pid->items[2];
    if (key->kind != PyObj::Kind::kStr) throw FormatError("malformed storage record: key");
    const int64_t numel = as_int(pid->items[4], "storage size");
    auto it = storages_.find(key->s);
    torch::Tensor storage;
    if (it != storages_.end()) {
      storage = it->second;
    } else {
      storage = loader_(key->s, dtype, numel);
      storages_.emplace(key->s, storage);
    }
    if (storage.scalar_type() != dtype) storage = storage.view(dtype);
    // Legacy format: a view of a larger storage, (view_key, offset, size).
    if (pid->items.size() >= 6 && pid->items[5]->kind == PyObj::Kind::kTuple) {
      const auto& view = pid->items[5]->items;
      if (view.size() != 3) throw FormatError("malformed storage view record");
      const int64_t off = as_int(view[1], "view offset"), len = as_int(view[2], "view size");
      if (off < 0 || len < 0 || off > storage.numel() || len > storage.numel() - off) {
        throw FormatError("storage view reads past its storage");
      }
      storage = storage.narrow(0, off, len);
    }
    auto o = make(PyObj::Kind::kStorage);
    o->tensor = storage;
    return o;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  StorageLoader loader_;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, PyRef> memo_;
  std::map<std::string, torch::Tensor> storages_;
  size_t objects_ = 0;  // created by this unpickler, over every pickle it loads
};

// ---------------------------------------------------------------------------------------------
// Turning the unpickled object into a StateDict.

std::string key_string(const PyRef& k) {
  if (k->kind == PyObj::Kind::kStr) return k->s;
  if (k->kind == PyObj::Kind::kInt) return std::to_string(k->i);
  return fmt::format("<{}>", kind_name(k->kind));
}

void flatten(const PyRef& dict, const std::string& prefix, StateDict& out, int depth = 0) {
  if (depth > kMaxDepth) throw FormatError("dicts nested too deeply");
  for (const auto& [k, v] : dict->entries) {
    const std::string name = prefix + key_string(k);
    if (v->kind == PyObj::Kind::kTensor) {
      out.emplace_back(name, v->tensor);
    } else if (v->kind == PyObj::Kind::kDict) {
      flatten(v, name + ".", out, depth + 1);
    }
  }
}

StateDict to_state_dict(const PyRef& root) {
  if (root->kind == PyObj::Kind::kTensor) return {{"", root->tensor}};
  if (root->kind != PyObj::Kind::kDict) {
    throw FormatError(fmt::format("holds a {} ({}), not a state_dict (a dict of tensors)",
                                  kind_name(root->kind), root->s));
  }
  for (const char* wrapper : {"model", "state_dict", "model_state", "model_state_dict"}) {
    for (const auto& [k, v] : root->entries) {
      if (k->kind == PyObj::Kind::kStr && k->s == wrapper && v->kind == PyObj::Kind::kDict) {
        StateDict out;
        flatten(v, "", out);
        if (!out.empty()) return out;
      }
    }
  }
  StateDict out;
  flatten(root, "", out);
  return out;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(fmt::format("{}: cannot open ({})", path, std::strerror(errno)));
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) throw DataError(fmt::format("{}: cannot read", path));
  in.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (!in) throw DataError(fmt::format("{}: read error", path));
  return bytes;
}

size_t element_size(torch::ScalarType dtype) { return c10::elementSize(dtype); }

// Reads the little-endian unsigned integer of `n` bytes at `p`.
uint64_t le_at(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
  return v;
}

// Checks the sizes a zip's central directory declares before LibTorch's archive reader sees the
// file: it allocates each record's declared (uncompressed) size before reading it, the "version"
// record already as it opens the archive, so a directory entry that lies, or a compressed record
// of zeros (torch.load reads deflated records too), would make a file of a few kilobytes allocate
// gigabytes. torch.save stores its records uncompressed: together they unpack to less than the
// file's size. Refused: records that together unpack to more than kZipExpansion times the file.
constexpr uint64_t kZipExpansion = 4;

void check_zip_sizes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  if (end < 0) throw FormatError("cannot read its size");
  const uint64_t size = static_cast<uint64_t>(end);
  auto read_at = [&](uint64_t offset, uint64_t n) {
    if (offset > size || n > size - offset) {
      throw FormatError(fmt::format("malformed zip directory: {} bytes at byte {} lie outside "
                                    "the file of {} bytes", n, offset, size));
    }
    std::vector<uint8_t> buf(static_cast<size_t>(n));
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(n));
    if (!in) throw FormatError("read error");
    return buf;
  };
  // The end-of-central-directory record: the last 22 bytes plus a comment of up to 65535.
  const uint64_t tail_size = std::min<uint64_t>(size, 22 + 65535);
  const auto tail = read_at(size - tail_size, tail_size);
  std::ptrdiff_t eocd = -1;
  for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(tail.size()) - 22; i >= 0; --i) {
    if (std::memcmp(tail.data() + i, "PK\x05\x06", 4) == 0) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw FormatError("is a zip file without its central directory (truncated?)");
  const uint8_t* e = tail.data() + eocd;
  uint64_t entries = le_at(e + 10, 2), dir_size = le_at(e + 12, 4), dir_offset = le_at(e + 16, 4);
  // Zip64 (Python's torch.save always writes it): a locator just before that record.
  if (eocd >= 20 && std::memcmp(e - 20, "PK\x06\x07", 4) == 0) {
    const auto z = read_at(le_at(e - 20 + 8, 8), 56);
    if (std::memcmp(z.data(), "PK\x06\x06", 4) != 0) {
      throw FormatError("malformed zip64 directory record");
    }
    entries = le_at(z.data() + 32, 8);
    dir_size = le_at(z.data() + 40, 8);
    dir_offset = le_at(z.data() + 48, 8);
  }
  if (entries > dir_size / 46) {
    throw FormatError(fmt::format("malformed zip directory: {} entries in {} bytes", entries,
                                  dir_size));
  }
  const auto dir = read_at(dir_offset, dir_size);
  uint64_t declared = 0;
  size_t at = 0;
  for (uint64_t n = 0; n < entries; ++n) {
    if (dir.size() - at < 46 || std::memcmp(dir.data() + at, "PK\x01\x02", 4) != 0) {
      throw FormatError(fmt::format("malformed zip directory: entry {} of {}", n, entries));
    }
    const uint8_t* h = dir.data() + at;
    uint64_t compressed = le_at(h + 20, 4), uncompressed = le_at(h + 24, 4);
    const size_t name = le_at(h + 28, 2), extra = le_at(h + 30, 2), comment = le_at(h + 32, 2);
    if (dir.size() - at - 46 < name + extra + comment) {
      throw FormatError(fmt::format("malformed zip directory: entry {} of {}", n, entries));
    }
    // Zip64 sizes are in extra field 0x0001, in this order, for the fields that are 0xFFFFFFFF.
    const uint8_t* x = h + 46 + name;
    for (size_t k = 0; k + 4 <= extra;) {
      const uint64_t id = le_at(x + k, 2), len = le_at(x + k + 2, 2);
      if (k + 4 + len > extra) break;
      if (id == 1) {
        size_t f = k + 4;
        if (uncompressed == 0xFFFFFFFF && f + 8 <= k + 4 + len) {
          uncompressed = le_at(x + f, 8);
          f += 8;
        }
        if (compressed == 0xFFFFFFFF && f + 8 <= k + 4 + len) compressed = le_at(x + f, 8);
      }
      k += 4 + len;
    }
    if (compressed > size) {
      throw FormatError(fmt::format("malformed zip directory: entry {} of {} bytes in a file of "
                                    "{} (truncated?)", n, compressed, size));
    }
    if (uncompressed > kZipExpansion * size || declared > kZipExpansion * size - uncompressed) {
      throw FormatError(fmt::format("its records unpack to more than {} times the file's {} "
                                    "bytes (torch.save stores them uncompressed: a corrupt zip "
                                    "directory or a zip bomb)", kZipExpansion, size));
    }
    declared += uncompressed;
    at += 46 + name + extra + comment;
  }
}

PyRef load_zip(const std::string& path) {
  check_zip_sizes(path);
  caffe2::serialize::PyTorchStreamReader reader(path);
  if (!reader.hasRecord("data.pkl")) {
    if (reader.hasRecord("constants.pkl")) {
      throw FormatError("is a TorchScript archive (torch.jit.save); save the model's "
                        "state_dict() with torch.save instead");
    }
    throw FormatError("is a zip file without data.pkl, not a torch.save file");
  }
  if (reader.hasRecord("byteorder")) {
    auto [order, order_size] = reader.getRecord("byteorder");
    const std::string text(static_cast<const char*>(order.get()), order_size);
    if (text != "little") throw FormatError("was saved big-endian (not supported)");
  }
  auto [pkl, pkl_size] = reader.getRecord("data.pkl");
  StorageLoader loader = [&reader](const std::string& key, torch::ScalarType dtype,
                                   int64_t numel) {
    const std::string record = "data/" + key;
    if (!reader.hasRecord(record)) {
      throw FormatError(fmt::format("storage record {} is missing", record));
    }
    auto [ptr, nbytes] = reader.getRecord(record);
    const size_t esize = element_size(dtype);
    if (numel < 0 || static_cast<uint64_t>(numel) > nbytes / esize) {
      throw FormatError(fmt::format("storage {} declares {} elements, its record holds {} bytes",
                                    key, numel, nbytes));
    }
    auto t = torch::empty({static_cast<int64_t>(nbytes / esize)}, torch::dtype(dtype));
    if (nbytes > 0) std::memcpy(t.data_ptr(), ptr.get(), t.numel() * esize);
    return t;
  };
  Unpickler u(static_cast<const uint8_t*>(pkl.get()), pkl_size, loader);
  return u.load();
}

PyRef load_legacy(const std::vector<uint8_t>& bytes) {
  std::map<std::string, torch::Tensor> storages;
  uint64_t claimed = 0;  // bytes all storages claim; they must fit in the file
  StorageLoader loader = [&](const std::string& key, torch::ScalarType dtype, int64_t numel) {
    const uint64_t nbytes = static_cast<uint64_t>(std::max<int64_t>(numel, 0)) *
                            element_size(dtype);
    if (numel < 0 || static_cast<uint64_t>(numel) > bytes.size() ||
        nbytes > bytes.size() - std::min<uint64_t>(claimed, bytes.size())) {
      throw FormatError(fmt::format("storage {} claims {} elements, more than the file holds",
                                    key, numel));
    }
    claimed += nbytes;
    auto t = torch::empty({numel}, torch::dtype(dtype));
    storages[key] = t;
    return t;
  };
  Unpickler u(bytes.data(), bytes.size(), loader);
  const PyRef magic = u.load();
  // torch.serialization.MAGIC_NUMBER = 0x1950a86a20f9469cfc6c, pickled as a 10-byte LONG1.
  static const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
  if (magic->kind != PyObj::Kind::kBigInt || magic->s != kMagic) {
    throw FormatError("is a pickle but not a torch.save file (wrong magic number)");
  }
  const PyRef protocol = u.load();
  if (protocol->kind != PyObj::Kind::kInt || protocol->i != 1001) {
    throw FormatError(fmt::format("unsupported legacy protocol version {}", protocol->i));
  }
  const PyRef sys_info = u.load();
  for (const auto& [k, v] : sys_info->entries) {
    if (k->kind == PyObj::Kind::kStr && k->s == "little_endian" &&
        v->kind == PyObj::Kind::kBool && !v->b) {
      throw FormatError("was saved on a big-endian machine (not supported)");
    }
  }
  const PyRef root = u.load();
  const PyRef keys = u.load();
  if (keys->kind != PyObj::Kind::kList) throw FormatError("malformed storage key list");
  if (keys->items.size() != storages.size()) {
    throw FormatError(fmt::format("{} storages used but {} listed", storages.size(),
                                  keys->items.size()));
  }
  size_t pos = u.position();
  for (const auto& key : keys->items) {
    auto it = storages.find(key_string(key));
    if (it == storages.end()) {
      throw FormatError(fmt::format("storage {} is listed but never used", key_string(key)));
    }
    torch::Tensor& t = it->second;
    if (bytes.size() - pos < 8) throw FormatError("truncated: storage header missing");
    int64_t numel = 0;
    std::memcpy(&numel, bytes.data() + pos, 8);
    pos += 8;
    if (numel != t.numel()) {
      throw FormatError(fmt::format("storage {} holds {} elements, its record says {}",
                                    key_string(key), numel, t.numel()));
    }
    const size_t nbytes = static_cast<size_t>(numel) * element_size(t.scalar_type());
    if (bytes.size() - pos < nbytes) {
      throw FormatError(fmt::format("truncated: storage {} needs {} bytes, {} left",
                                    key_string(key), nbytes, bytes.size() - pos));
    }
    if (nbytes > 0) std::memcpy(t.data_ptr(), bytes.data() + pos, nbytes);
    pos += nbytes;
  }
  return root;
}

}  // namespace

StateDict read_state_dict(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError(fmt::format("{}: no such file (expected a .pth file written by torch.save)",
                                path));
  }
  try {
    std::ifstream in(path, std::ios::binary);
    char head[4] = {0, 0, 0, 0};
    in.read(head, 4);
    const std::streamsize got = in.gcount();
    in.close();
    PyRef root;
    if (got == 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) {
      root = load_zip(path);
    } else if (got >= 2 && static_cast<uint8_t>(head[0]) == 0x80) {
      root = load_legacy(read_file(path));
    } else {
      throw FormatError(got == 0 ? "is empty" : "is not a torch.save file (neither a zip "
                                                "archive nor a pickle)");
    }
    StateDict state = to_state_dict(root);
    if (state.empty()) throw FormatError("holds no tensors");
    return state;
  } catch (const FormatError& e) {
    throw DataError(fmt::format("{}: {}", path, e.what()));
  } catch (const c10::Error& e) {
    throw DataError(fmt::format("{}: not a readable torch.save file ({})", path,
                                e.what_without_backtrace()));
  }
}

void write_state_dict(const std::string& path, const StateDict& state) {
  // The archive is built in memory and written with checked writes: PyTorchStreamWriter's own
  // file output throws from its destructor when a write fails (a full disk), which terminates.
  // torch::pickle_save writes torch.save's zip format; the bytes are written by
  // write_file_atomically, renamed into place.
  std::vector<char> archive;
  try {
    c10::Dict<std::string, torch::Tensor> dict;
    for (const auto& [name, tensor] : state) {
      dict.insert(name, tensor.detach().to(torch::kCPU).contiguous());
    }
    archive = torch::pickle_save(dict);
  } catch (const c10::Error& e) {
    throw DataError(fmt::format("{}: cannot write ({})", path, e.what_without_backtrace()));
  }
  write_file_atomically(path, std::string_view(archive.data(), archive.size()), "torch.save file");
}

}  // namespace interop
}  // namespace focalab::harness
