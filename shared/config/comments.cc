#include "shared/config/comments.h"

#include <fmt/format.h>

namespace xsup::config {

std::string strip_comments(std::string_view text) {
  std::string out(text);
  enum class State { kCode, kString, kLineComment, kBlockComment };
  State state = State::kCode;
  for (std::size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    switch (state) {
      case State::kCode:
        if (c == '"') {
          state = State::kString;
        } else if (c == '#') {
          state = State::kLineComment;
          out[i] = ' ';
        } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
          state = State::kLineComment;
          out[i] = out[i + 1] = ' ';
          ++i;
        } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
          state = State::kBlockComment;
          out[i] = out[i + 1] = ' ';
          ++i;
        }
        break;
      case State::kString:
        if (c == '\\') {
          ++i;  // the escaped character, `\"` included, never ends the string
        } else if (c == '"') {
          state = State::kCode;
        }
        break;
      case State::kLineComment:
        // A CR stays too: CRLF files keep their line structure for the parser's counts.
        if (c == '\n' || c == '\r') {
          state = State::kCode;
        } else {
          out[i] = ' ';
        }
        break;
      case State::kBlockComment:
        if (c == '*' && i + 1 < out.size() && out[i + 1] == '/') {
          out[i] = out[i + 1] = ' ';
          ++i;
          state = State::kCode;
        } else if (c != '\n' && c != '\r') {
          out[i] = ' ';
        }
        break;
    }
  }
  return out;
}

namespace {

// nlohmann reports a byte count; operators want a line and a column (both from 1).
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;  // columns count characters: UTF-8 continuation bytes add nothing
    }
  }
  return {line, column};
}

// The parser's own text after its "[json.exception...] parse error at ...: " preamble.
std::string describe(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  std::size_t pos = what.find("syntax error");
  if (pos == std::string::npos) pos = what.find(": ");
  if (pos == std::string::npos) return what;
  if (what.compare(pos, 2, ": ") == 0) pos += 2;
  return what.substr(pos);
}

}  // namespace

ParsedJson parse_json(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::string stripped = strip_comments(text);
  ParsedJson result;
  try {
    result.value = nlohmann::json::parse(stripped);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts the characters read, the offending one included.
    std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    auto [line, column] = line_column(stripped, offset);
    result.error = fmt::format("line {}, column {}: {}", line, column, describe(e));
  }
  return result;
}

}  // namespace xsup::config
