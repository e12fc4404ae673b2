#include "harness/util/json.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace focalab::harness {
inline namespace util {

Json json_number(double v) {
  if (!std::isfinite(v)) return nullptr;
  // integers up to 1e16 are written in full by both writers; -0 stays a double ("-0")
  if (v == std::trunc(v) && std::fabs(v) < 1e16 && !(v == 0 && std::signbit(v))) {
    return static_cast<int64_t>(v);
  }
  return v;
}

Json json_rounded(double v, int digits) {
  if (!std::isfinite(v)) return nullptr;
  return json_number(std::strtod(fmt::format("{:.{}f}", v, digits).c_str(), nullptr));
}

std::string compact_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string pretty_json(const Json& j) {
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

namespace {

void canonical(const Json& j, std::string& out) {
  switch (j.type()) {
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : j.items()) {
        if (!first) out += ',';
        first = false;
        out += compact_json(Json(k));
        out += ':';
        canonical(v, out);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < j.size(); ++i) {
        if (i) out += ',';
        canonical(j[i], out);
      }
      out += ']';
      return;
    }
    case Json::value_t::number_float: {
      const double v = j.get<double>();
      out += std::isfinite(v) ? fmt::format("{}", v) : "null";  // fmt: shortest round trip
      return;
    }
    default:
      out += compact_json(j);
  }
}

}  // namespace

std::string canonical_json(const Json& j) {
  std::string out;
  canonical(j, out);
  return out;
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (levels_.empty()) return;
  Level& l = levels_.back();
  if (!l.array) throw std::logic_error("JsonWriter: a value inside an object needs a key");
  if (!l.first) sink_(",");
  if (l.one_per_line) sink_("\n");
  l.first = false;
}

void JsonWriter::begin_object() {
  before_value();
  sink_("{");
  levels_.push_back({false, false, true});
}

void JsonWriter::end_object() {
  if (levels_.empty() || levels_.back().array) throw std::logic_error("JsonWriter: no object open");
  levels_.pop_back();
  sink_("}");
}

void JsonWriter::begin_array(bool one_per_line) {
  before_value();
  sink_("[");
  levels_.push_back({true, one_per_line, true});
}

void JsonWriter::end_array() {
  if (levels_.empty() || !levels_.back().array) throw std::logic_error("JsonWriter: no array open");
  const bool newline = levels_.back().one_per_line && !levels_.back().first;
  levels_.pop_back();
  sink_(newline ? "\n]" : "]");
}

void JsonWriter::key(std::string_view name) {
  if (levels_.empty() || levels_.back().array || after_key_) {
    throw std::logic_error("JsonWriter: a key belongs inside an object, before a value");
  }
  Level& l = levels_.back();
  if (!l.first) sink_(",");
  l.first = false;
  sink_(compact_json(Json(std::string(name))));
  sink_(":");
  after_key_ = true;
}

void JsonWriter::value(const Json& v) {
  before_value();
  sink_(compact_json(v));
}

}  // namespace util
}  // namespace focalab::harness
