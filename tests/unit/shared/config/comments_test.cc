#include "shared/config/comments.h"

#include <gtest/gtest.h>

namespace xsup::config {
namespace {

nlohmann::json parse_ok(std::string_view text) {
  ParsedJson parsed = parse_json(text);
  EXPECT_TRUE(parsed.value.has_value()) << parsed.error;
  return parsed.value.value_or(nlohmann::json());
}

TEST(CommentsTest, LineCommentsOutsideStringsAreBlanked) {
  EXPECT_EQ(strip_comments("{} // x\n"), "{}     \n");
  EXPECT_EQ(strip_comments("{} # x\n1"), "{}    \n1");
}

TEST(CommentsTest, SlashesAndHashesInsideStringsStay) {
  auto j = parse_ok(R"({"url": "https://x.example/a#b", "c": "/* no */"} // tail)");
  EXPECT_EQ(j["url"], "https://x.example/a#b");
  EXPECT_EQ(j["c"], "/* no */");
}

TEST(CommentsTest, EscapedQuoteDoesNotEndTheString) {
  auto j = parse_ok(R"({"a": "say \"// hi\" # there", "b": 1} # c)");
  EXPECT_EQ(j["a"], "say \"// hi\" # there");
  EXPECT_EQ(j["b"], 1);
}

TEST(CommentsTest, BlockCommentSpanningLinesKeepsNewlines) {
  std::string text = "{\n/* one\ntwo */ \"a\": 1\n}";
  std::string stripped = strip_comments(text);
  EXPECT_EQ(stripped.size(), text.size());
  EXPECT_EQ(std::count(stripped.begin(), stripped.end(), '\n'), 3);
  EXPECT_EQ(parse_ok(text)["a"], 1);
}

TEST(CommentsTest, CommentBeforeTheObject) {
  EXPECT_EQ(parse_ok("// header\n# more\n/* x */ {\"a\": true}")["a"], true);
}

TEST(CommentsTest, CrlfLineEndings) {
  auto j = parse_ok("{\r\n  \"a\": 1, // one\r\n  \"b\": 2 # two\r\n}\r\n");
  EXPECT_EQ(j["a"], 1);
  EXPECT_EQ(j["b"], 2);
}

TEST(CommentsTest, ByteOrderMarkIsTolerated) {
  EXPECT_EQ(parse_ok("\xEF\xBB\xBF{}"), nlohmann::json::object());
}

TEST(CommentsTest, TrailingCommaIsAnErrorWithLineAndColumn) {
  ParsedJson parsed = parse_json("{\n  \"a\": 1,\n}\n");
  ASSERT_FALSE(parsed.value.has_value());
  EXPECT_EQ(parsed.error.rfind("line 3, column 1: ", 0), 0u) << parsed.error;
}

TEST(CommentsTest, ErrorPositionCountsCommentedLines) {
  ParsedJson parsed = parse_json("// c\n/* a\nb */\n{\"a\": tru}");
  ASSERT_FALSE(parsed.value.has_value());
  EXPECT_EQ(parsed.error.rfind("line 4, column ", 0), 0u) << parsed.error;
}

TEST(CommentsTest, UnterminatedBlockCommentIsAnError) {
  EXPECT_FALSE(parse_json("{ /* never closed").value.has_value());
}

}  // namespace
}  // namespace xsup::config
