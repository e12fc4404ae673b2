// harness/util/json: the number forms, the canonical text trial keys hash, the streaming writer.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "harness/util/errors.h"
#include "harness/util/json.h"

namespace focalab::harness {
namespace {

TEST(Json, NumbersAreIntegersWhenIntegralAndNullWhenNotFinite) {
  EXPECT_EQ(compact_json(json_number(2.0)), "2");
  EXPECT_EQ(compact_json(json_number(-3.0)), "-3");
  EXPECT_EQ(compact_json(json_number(0.25)), "0.25");
  EXPECT_EQ(compact_json(json_number(std::nan(""))), "null");
  EXPECT_EQ(compact_json(json_number(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(compact_json(json_number_or_null(1.5, false)), "null");
  EXPECT_EQ(compact_json(json_rounded(12.345678, 2)), "12.35");
  EXPECT_EQ(compact_json(json_rounded(7.0000001, 4)), "7");
}

TEST(Json, CanonicalTextWritesShortestNumbers) {
  // nlohmann's own writer (Grisu2) is not always shortest; the canonical text must be, so that
  // configs keep the keys they were recorded under.
  Json j = Json::object();
  j["lr"] = 3.638e-10;
  j["p"] = 0.00569690317848;
  j["list"] = {0.1, 0.2, 0.1 + 0.2};
  j["big"] = 1e21;
  j["n"] = json_number(4.0);
  j["s"] = "a\"b\\c\td\x01";
  j["b"] = false;
  j["z"] = nullptr;
  EXPECT_EQ(canonical_json(j),
            R"({"lr":3.638e-10,"p":0.00569690317848,"list":[0.1,0.2,0.30000000000000004],)"
            R"("big":1e+21,"n":4,"s":"a\"b\\c\td\u0001","b":false,"z":null})");
  // and it reads back to the same values
  EXPECT_EQ(Json::parse(canonical_json(j)), j);
  // invalid UTF-8 is replaced, never thrown
  EXPECT_EQ(compact_json(Json(std::string("x\xff"))), "\"x\xef\xbf\xbd\"");
}

TEST(Json, ParseErrorsNameWhatWasRead) {
  try {
    parse_json<DataError>("{\"a\": [1, 2", "runs.json");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("runs.json: not valid JSON: parse error at line 1, column 12", 0), 0u)
        << e.what();
  }
  EXPECT_EQ(parse_json<DataError>(R"({"a": [1, 2]})", "x").at("a").at(1), 2);
  // nesting is bounded before any recursive walk sees it
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  try {
    parse_json<DataError>(deep, "deep.json");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "deep.json: not valid JSON: nested deeper than 64 levels");
  }
  EXPECT_EQ(parse_json<DataError>(std::string(64, '[') + std::string(64, ']'), "x").size(), 1u);
}

TEST(Json, WriterStreamsAValidDocument) {
  std::string out;
  JsonWriter w([&out](std::string_view piece) { out += piece; });
  w.begin_object();
  w.key("info");
  w.value({{"name", "x"}});
  w.key("items");
  w.begin_array(true);
  for (int i = 1; i <= 3; ++i) w.value({{"id", i}, {"box", {0.5, 1, 2}}});
  w.end_array();
  w.key("empty");
  w.begin_array(true);
  w.end_array();
  w.key("nested");
  w.begin_array();
  w.begin_object();
  w.key("k");
  w.value(1);
  w.end_object();
  w.end_array();
  w.end_object();
  w.newline();
  EXPECT_EQ(out,
            "{\"info\":{\"name\":\"x\"},\"items\":[\n{\"id\":1,\"box\":[0.5,1,2]},\n"
            "{\"id\":2,\"box\":[0.5,1,2]},\n{\"id\":3,\"box\":[0.5,1,2]}\n],\"empty\":[],"
            "\"nested\":[{\"k\":1}]}\n");
  const Json back = Json::parse(out);
  EXPECT_EQ(back.at("items").size(), 3u);
  EXPECT_EQ(back.at("items").at(2).at("id"), 3);
  EXPECT_EQ(back.at("nested").at(0).at("k"), 1);
  // misuse is a programming error, caught at once
  std::string bad;
  JsonWriter v([&bad](std::string_view piece) { bad += piece; });
  v.begin_object();
  EXPECT_THROW(v.value(1), std::logic_error);
  EXPECT_THROW(v.end_array(), std::logic_error);
}

}  // namespace
}  // namespace focalab::harness
