#pragma once
// JSON through nlohmann-json (Debian's nlohmann-json3-dev): every JSON document focalab writes or
// reads, except the COCO annotation and result files it reads, which stay on simdjson
// (harness/eval/coco_json) for speed.

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace focalab::harness {
inline namespace util {

// Objects keep their keys in the order they were added (a report lists metrics as its table does).
using Json = nlohmann::ordered_json;

// A double as JSON: null when it is not finite (JSON has neither NaN nor infinity), an integer
// when it is one (2, not 2.0, as the canonical config has always written it).
Json json_number(double v);
inline Json json_number_or_null(double v, bool ok) { return ok ? json_number(v) : Json(nullptr); }
// v rounded to `digits` decimals (the double nearest that decimal), as json_number: for files of
// coordinates, where more digits are noise.
Json json_rounded(double v, int digits);

// Compact text (`{"a":1,"b":[0.5,2]}`); strings that are not UTF-8 get U+FFFD, never an exception.
std::string compact_json(const Json& j);
// Indented by two spaces, with a final newline: what commands print for people and scripts.
std::string pretty_json(const Json& j);
// The canonical form trial keys hash: compact_json's, except that every number is its shortest
// round-trip decimal (nlohmann's Grisu2 writes 3.638e-10 as 3.6380000000000003e-10); existing
// databases keep their keys (tests/harness/trial_key_test.cpp pins the bytes).
std::string canonical_json(const Json& j);

// Parses text, or throws E("WHAT: not valid JSON: ..."); deeper nesting than max_depth is refused
// as invalid (focalab's documents are a few levels deep; a hostile one must not exhaust the stack of
// the recursive code that walks it).
template <class E>
Json parse_json(std::string_view text, const std::string& what, int max_depth = 64) {
  struct TooDeep {};
  try {
    return Json::parse(text.begin(), text.end(),
                       [max_depth](int depth, Json::parse_event_t, Json&) {
                         if (depth > max_depth) throw TooDeep{};
                         return true;
                       });
  } catch (const TooDeep&) {
    throw E(what + ": not valid JSON: nested deeper than " + std::to_string(max_depth) + " levels");
  } catch (const Json::parse_error& e) {
    std::string why = e.what();  // "[json.exception.parse_error.101] parse error at line 1, ..."
    if (why.rfind("[json.exception.", 0) == 0 && why.find("] ") != std::string::npos) {
      why = why.substr(why.find("] ") + 2);
    }
    throw E(what + ": not valid JSON: " + why);
  }
}

// A large JSON document written piece by piece, so that a file of a million annotations is never
// one tree in memory: the writer adds the brackets, keys and commas, nlohmann dumps each value.
//   JsonWriter w(sink);
//   w.begin_object(); w.key("images"); w.begin_array(true); w.value(image); ...; w.end_array();
//   w.end_object();
class JsonWriter {
 public:
  using Sink = std::function<void(std::string_view)>;
  explicit JsonWriter(Sink sink) : sink_(std::move(sink)) {}
  void begin_object();
  void end_object();
  // one_per_line: each element on a line of its own (COCO files people open in an editor)
  void begin_array(bool one_per_line = false);
  void end_array();
  void key(std::string_view name);  // inside an object, before its value
  void value(const Json& v);        // an array element, or the value of the last key
  // Writes a newline (after the document, or between top-level pieces).
  void newline() { sink_("\n"); }

 private:
  void before_value();
  struct Level {
    bool array = false;
    bool one_per_line = false;
    bool first = true;
  };
  Sink sink_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

}  // namespace util
}  // namespace focalab::harness
