#include "shared/crypto/uuid.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace xsup::crypto {

Uuid random_uuid() {
  Uuid u{};
  if (RAND_bytes(u.data(), static_cast<int>(u.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  u[6] = static_cast<std::uint8_t>((u[6] & 0x0F) | 0x40);  // version 4
  u[8] = static_cast<std::uint8_t>((u[8] & 0x3F) | 0x80);  // RFC variant
  return u;
}

std::string to_string(const Uuid& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[uuid[i] >> 4];
    out += kHex[uuid[i] & 0x0F];
  }
  return out;
}

std::optional<Uuid> parse_uuid(std::string_view text) {
  Uuid out{};
  std::size_t n = 0;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() != 36 && text.size() != 32) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.size() == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    int v = nibble(text[i]);
    if (v < 0 || n >= 32) return std::nullopt;
    if (n % 2 == 0) {
      out[n / 2] = static_cast<std::uint8_t>(v << 4);
    } else {
      out[n / 2] |= static_cast<std::uint8_t>(v);
    }
    ++n;
  }
  if (n != 32) return std::nullopt;
  return out;
}

}  // namespace xsup::crypto
