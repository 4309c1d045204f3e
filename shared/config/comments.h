#pragma once
// The JSON dialect Xray reads (spec/config.md §2): standard JSON plus `//`, `#` and
// `/* */` comments outside string literals. Trailing commas stay errors, as in Xray.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace xsup::config {

// Replaces every comment character with a space and keeps newlines, so that the line and
// column of a later parse error still point into the original text.
std::string strip_comments(std::string_view text);

struct ParsedJson {
  std::optional<nlohmann::json> value;  // nullopt on a syntax error
  std::string error;                    // "line 3, column 7: ..." when value is empty
};

// Strips comments and parses. A UTF-8 byte order mark is tolerated.
ParsedJson parse_json(std::string_view text);

}  // namespace xsup::config
