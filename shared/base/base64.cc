#include "shared/base/base64.h"

#include <array>
#include <cstdint>

namespace xsup::base {
namespace {

constexpr std::string_view kStandardAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using Table = std::array<std::int8_t, 256>;

constexpr Table make_table(std::string_view alphabet) {
  Table table{};
  for (auto& v : table) v = -1;
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr Table kStandardTable = make_table(kStandardAlphabet);
constexpr Table kUrlTable = make_table(kUrlAlphabet);

// Decodes unpadded `text` (its length mod 4 is not 1) through `table`.
std::optional<std::string> decode(std::string_view text, const Table& table) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const std::int8_t value = table[static_cast<unsigned char>(c)];
    if (value < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // The bits left over must be zero, or two texts would decode to the same bytes.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes, Base64 alphabet) {
  const std::string_view chars = alphabet == Base64::kUrl ? kUrlAlphabet : kStandardAlphabet;
  const auto byte_at = [&](std::size_t i) -> std::uint32_t {
    return i < bytes.size() ? static_cast<unsigned char>(bytes[i]) : 0u;
  };
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::uint32_t n = (byte_at(i) << 16) | (byte_at(i + 1) << 8) | byte_at(i + 2);
    const std::size_t used = std::min<std::size_t>(bytes.size() - i, 3) + 1;  // 2, 3 or 4
    for (std::size_t k = 0; k < 4; ++k) {
      if (k < used) {
        out.push_back(chars[(n >> (18 - 6 * k)) & 63]);
      } else if (alphabet == Base64::kStandard) {
        out.push_back('=');
      }
    }
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  // At most two '=', only at the end.
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return decode(text.substr(0, text.size() - pad), kStandardTable);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  return decode(text, kUrlTable);
}

}  // namespace xsup::base
