#pragma once
// Byte-vector helpers for codec tests: hex in, hex out.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xsup::worker::proxy::testing {

using ByteVector = std::vector<std::uint8_t>;

// Hex digits; spaces are ignored ("00 b831 38").
inline ByteVector hex(std::string_view text) {
  ByteVector out;
  int high = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;
    }
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>((high << 4) | v));
      high = -1;
    }
  }
  return out;
}

inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

inline ByteVector ascii(std::string_view text) { return {text.begin(), text.end()}; }

inline ByteVector concat(std::initializer_list<ByteVector> parts) {
  ByteVector out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// n bytes counting up from `from` (wrapping): 00 01 02 ...
inline ByteVector counting(std::size_t n, std::uint8_t from = 0) {
  ByteVector out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(from + i);
  return out;
}

}  // namespace xsup::worker::proxy::testing
