#include "harness/eval/coco_json.h"

#include <fmt/format.h>

#include <cstring>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "harness/util/errors.h"

namespace focalab::harness {
inline namespace eval {

namespace {

namespace od = simdjson::ondemand;

// Raised while parsing with the element path; turned into a DataError naming the file.
struct JsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads the whole file into simdjson's padded buffer.
simdjson::padded_string load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError(fmt::format("{}: no such JSON file", path));
  }
  simdjson::padded_string json;
  auto error = simdjson::padded_string::load(path).get(json);
  if (error) {
    throw DataError(fmt::format("{}: cannot read ({})", path, simdjson::error_message(error)));
  }
  if (json.size() == 0) throw DataError(fmt::format("{}: empty file, not JSON", path));
  return json;
}

// Replaces the contents of every "segmentation" value (polygon lists or RLE objects, which focalab
// never reads) by spaces (newlines kept), leaving an empty [ ] or { }. In COCO's instances files they are most of
// the bytes and most of the JSON tokens; without them the parser's structural index (4 bytes a
// token) stays small and parsing is faster. Strings inside the value are skipped with their
// escapes, so brackets in strings do not count; a value without its closing bracket is left as
// it is (the parser then reports the error).
void blank_segmentations(char* data, size_t size) {
  static constexpr std::string_view kKey = "\"segmentation\"";
  const char* end = data + size;
  char* p = data;
  while (true) {
    p = static_cast<char*>(memmem(p, static_cast<size_t>(end - p), kKey.data(), kKey.size()));
    if (!p) return;
    p += kKey.size();
    char* q = p;
    while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')) ++q;
    if (q >= end || *q != ':') continue;  // a string value, not a key
    ++q;
    while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')) ++q;
    if (q >= end || (*q != '[' && *q != '{')) continue;
    char* open = q;
    int depth = 0;
    bool closed = false;
    for (; q < end; ++q) {
      const char c = *q;
      if (c == '"') {  // skip the string
        for (++q; q < end && *q != '"'; ++q) {
          if (*q == '\\') ++q;
        }
        if (q >= end) break;
      } else if (c == '[' || c == '{') {
        ++depth;
      } else if (c == ']' || c == '}') {
        if (--depth == 0) {
          closed = true;
          break;
        }
      }
    }
    if (!closed) return;
    for (char* c = open + 1; c < q; ++c) {
      if (*c != '\n') *c = ' ';  // newlines stay: error messages give line numbers
    }
    p = q + 1;
  }
}

// JSON nests at most this deep: simdjson's default depth limit. Its On-Demand parser skips the
// fields focalab does not read without looking at their depth (100,000 nested lists in an unknown
// field were accepted) and nothing here recurses, but the bound is explicit, as in focalab's
// other parsers: COCO instances files nest 5 levels deep (polygon segmentations), results 3.
constexpr int kMaxJsonDepth = 1024;

// Throws DataError, with the line, when brackets outside strings nest deeper than kMaxJsonDepth.
// One pass over the bytes: about half a second for the 448 MB of COCO 2017 train.
void check_depth(const std::string& path, const char* data, size_t size) {
  int depth = 0;
  const char* end = data + size;
  for (const char* p = data; p < end; ++p) {
    const char c = *p;
    if (c == '"') {  // skip the string with its escapes
      for (++p; p < end && *p != '"'; ++p) {
        if (*p == '\\') ++p;
      }
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        throw DataError(fmt::format("{}: line {}: nested deeper than {} levels (COCO files nest "
                                    "5)", path, 1 + std::count(data, p, '\n'), kMaxJsonDepth));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

std::string where(const char* list, size_t index, std::string_view key = {}) {
  return key.empty() ? fmt::format("{}[{}]", list, index)
                     : fmt::format("{}[{}].{}", list, index, key);
}

int64_t get_int(od::value v, const std::string& at) {
  int64_t out = 0;
  if (v.get_int64().get(out)) {
    double d = 0;
    if (!v.get_double().get(d) && std::abs(d) < 9.0e18 &&
        d == static_cast<double>(static_cast<int64_t>(d))) {
      return static_cast<int64_t>(d);  // 3.0 is accepted as 3, as Python would index it
    }
    throw JsonError(fmt::format("{}: expected an integer", at));
  }
  return out;
}

double get_number(od::value v, const std::string& at) {
  double out = 0;
  if (v.get_double().get(out)) throw JsonError(fmt::format("{}: expected a number", at));
  return out;
}

std::array<double, 4> get_bbox(od::value v, const std::string& at) {
  od::array arr;
  if (v.get_array().get(arr)) {
    throw JsonError(fmt::format("{}: expected [x, y, width, height]", at));
  }
  std::array<double, 4> box{};
  size_t n = 0;
  for (auto element : arr) {
    od::value item;
    if (element.get(item)) throw JsonError(fmt::format("{}: malformed array", at));
    if (n < 4) box[n] = get_number(item, fmt::format("{}[{}]", at, n));
    ++n;
  }
  if (n != 4) {
    throw JsonError(fmt::format("{}: has {} numbers, expected 4 (x, y, width, height)", at, n));
  }
  return box;
}

bool get_bool_or_int(od::value v, const std::string& at) {
  bool b = false;
  if (!v.get_bool().get(b)) return b;
  return get_int(v, at) != 0;
}

std::string get_string(od::value v, const std::string& at) {
  std::string_view s;
  if (v.get_string().get(s)) throw JsonError(fmt::format("{}: expected a string", at));
  return std::string(s);
}

// Iterates the fields of the object `v`, calling fn(key, value).
template <typename Fn>
void for_each_field(od::value v, const std::string& at, Fn&& fn) {
  od::object obj;
  if (v.get_object().get(obj)) throw JsonError(fmt::format("{}: expected an object", at));
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) throw JsonError(fmt::format("{}: malformed key", at));
    od::value value;
    if (field.value().get(value)) throw JsonError(fmt::format("{}.{}: malformed value", at, key));
    fn(key, value);
  }
}

template <typename Fn>
void for_each_element(od::value v, const char* name, Fn&& fn) {
  od::array arr;
  if (v.get_array().get(arr)) throw JsonError(fmt::format("{}: expected a list", name));
  size_t i = 0;
  for (auto element : arr) {
    od::value item;
    if (element.get(item)) throw JsonError(fmt::format("{}[{}]: malformed JSON", name, i));
    fn(item, i);
    ++i;
  }
}

// Runs `parse` on the document; converts parse errors into DataErrors with a line number.
template <typename Fn>
void parse_file(const std::string& path, Fn&& parse) {
  auto json = load(path);
  check_depth(path, json.data(), json.size());
  blank_segmentations(json.data(), json.size());
  od::parser parser;
  od::document doc;
  if (auto error = parser.iterate(json).get(doc)) {
    throw DataError(fmt::format("{}: not valid JSON ({})", path, simdjson::error_message(error)));
  }
  try {
    parse(doc);
  } catch (const JsonError& e) {
    throw DataError(fmt::format("{}: {}", path, e.what()));
  } catch (const simdjson::simdjson_error& e) {
    std::string line;
    const char* loc = nullptr;
    if (!doc.current_location().get(loc) && loc >= json.data() &&
        loc <= json.data() + json.size()) {
      line = fmt::format(" at line {}",
                         1 + std::count(static_cast<const char*>(json.data()), loc, '\n'));
    }
    throw DataError(fmt::format("{}: not valid JSON{} ({})", path, line, e.what()));
  }
}

}  // namespace

CocoDataset read_coco_dataset(const std::string& path) {
  CocoDataset ds;
  bool has_images = false, has_categories = false;
  parse_file(path, [&](od::document& doc) {
    od::object root;
    if (auto error = doc.get_object().get(root)) {
      if (error != simdjson::INCORRECT_TYPE) {
        throw JsonError(fmt::format("not valid JSON ({})", simdjson::error_message(error)));
      }
      throw JsonError("expected a JSON object with images, categories and annotations (a COCO "
                      "instances file)");
    }
    for (auto field : root) {
      std::string_view key = field.unescaped_key();
      od::value value = field.value();
      if (key == "images") {
        has_images = true;
        for_each_element(value, "images", [&](od::value item, size_t i) {
          CocoImage im;
          bool has_id = false;
          for_each_field(item, where("images", i), [&](std::string_view k, od::value v) {
            if (k == "id") im.id = get_int(v, where("images", i, k)), has_id = true;
            else if (k == "width") im.width = get_int(v, where("images", i, k));
            else if (k == "height") im.height = get_int(v, where("images", i, k));
            else if (k == "file_name") im.file_name = get_string(v, where("images", i, k));
          });
          if (!has_id) throw JsonError(fmt::format("{}: missing id", where("images", i)));
          ds.images.push_back(std::move(im));
        });
      } else if (key == "categories") {
        has_categories = true;
        for_each_element(value, "categories", [&](od::value item, size_t i) {
          CocoCategory c;
          bool has_id = false;
          for_each_field(item, where("categories", i), [&](std::string_view k, od::value v) {
            if (k == "id") c.id = get_int(v, where("categories", i, k)), has_id = true;
            else if (k == "name") c.name = get_string(v, where("categories", i, k));
          });
          if (!has_id) throw JsonError(fmt::format("{}: missing id", where("categories", i)));
          ds.categories.push_back(std::move(c));
        });
      } else if (key == "annotations") {
        for_each_element(value, "annotations", [&](od::value item, size_t i) {
          CocoAnnotation a;
          bool id = false, image = false, category = false, bbox = false, area = false;
          for_each_field(item, where("annotations", i), [&](std::string_view k, od::value v) {
            const auto at = [&] { return where("annotations", i, k); };
            if (k == "id") a.id = get_int(v, at()), id = true;
            else if (k == "image_id") a.image_id = get_int(v, at()), image = true;
            else if (k == "category_id") a.category_id = get_int(v, at()), category = true;
            else if (k == "bbox") a.bbox = get_bbox(v, at()), bbox = true;
            else if (k == "area") a.area = get_number(v, at()), area = true;
            else if (k == "iscrowd") a.iscrowd = get_bool_or_int(v, at());
          });
          for (auto [ok, name] : {std::pair{id, "id"}, {image, "image_id"},
                                  {category, "category_id"}, {bbox, "bbox"}}) {
            if (!ok) throw JsonError(fmt::format("{}: missing {}", where("annotations", i), name));
          }
          if (!area) a.area = a.bbox[2] * a.bbox[3];
          ds.annotations.push_back(a);
        });
      }
    }
  });
  if (!has_images || !has_categories) {
    throw DataError(fmt::format("{}: missing \"{}\" (a COCO instances file has images, "
                                "categories and annotations)", path,
                                has_images ? "categories" : "images"));
  }
  return ds;
}

std::vector<CocoResult> read_coco_results(const std::string& path) {
  std::vector<CocoResult> out;
  parse_file(path, [&](od::document& doc) {
    od::array arr;
    if (auto error = doc.get_array().get(arr)) {
      if (error != simdjson::INCORRECT_TYPE) {
        throw JsonError(fmt::format("not valid JSON ({})", simdjson::error_message(error)));
      }
      throw JsonError("expected a JSON list of detections [{\"image_id\", \"category_id\", "
                      "\"bbox\", \"score\"}, ...] (a COCO results file)");
    }
    size_t i = 0;
    for (auto element : arr) {
      od::value item;
      if (element.get(item)) throw JsonError(fmt::format("[{}]: malformed JSON", i));
      CocoResult r;
      bool image = false, category = false, bbox = false, score = false;
      const std::string at = fmt::format("[{}]", i);
      for_each_field(item, at, [&](std::string_view k, od::value v) {
        const std::string key_at = fmt::format("{}.{}", at, k);
        if (k == "image_id") r.image_id = get_int(v, key_at), image = true;
        else if (k == "category_id") r.category_id = get_int(v, key_at), category = true;
        else if (k == "bbox") r.bbox = get_bbox(v, key_at), bbox = true;
        else if (k == "score") r.score = get_number(v, key_at), score = true;
      });
      for (auto [ok, name] : {std::pair{image, "image_id"}, {category, "category_id"},
                              {bbox, "bbox"}, {score, "score"}}) {
        if (!ok) {
          throw JsonError(fmt::format("{}: missing {} (bbox results need image_id, category_id, "
                                      "bbox and score)", at, name));
        }
      }
      out.push_back(r);
      ++i;
    }
  });
  if (out.empty()) {
    throw DataError(fmt::format("{}: holds no detections (an empty list); pycocotools cannot "
                                "score it either", path));
  }
  return out;
}

BoxCheck check_box(const CocoAnnotation& a, int64_t width, int64_t height) {
  const auto& b = a.bbox;
  if (!(b[2] > 0 && b[3] > 0)) return BoxCheck::kNoArea;
  const double W = static_cast<double>(width), H = static_cast<double>(height);
  if (width > 0 && height > 0 &&
      (b[0] < -1 || b[1] < -1 || b[0] + b[2] > W + 1 || b[1] + b[3] > H + 1)) {
    return BoxCheck::kOutside;
  }
  return BoxCheck::kOk;
}

std::string box_problem(const CocoAnnotation& a, BoxCheck check, int64_t width, int64_t height) {
  const auto& b = a.bbox;
  const std::string box = fmt::format("annotation {}: bbox [{}, {}, {}, {}]", a.id, b[0], b[1],
                                      b[2], b[3]);
  return check == BoxCheck::kNoArea
             ? box + " has no area"
             : fmt::format("{} leaves the {}x{} image {}", box, width, height, a.image_id);
}

}  // namespace eval
}  // namespace focalab::harness
