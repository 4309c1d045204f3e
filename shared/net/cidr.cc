#include "shared/net/cidr.h"

#include <charconv>
#include <string>

namespace xsup::net {
namespace {

template <std::size_t N>
void clear_host_bits(std::array<unsigned char, N>& bytes, unsigned prefix) {
  for (std::size_t i = 0; i < N; ++i) {
    unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= prefix) {
      bytes[i] = 0;
    } else if (prefix - bit < 8) {
      bytes[i] &= static_cast<unsigned char>(0xFF00u >> (prefix - bit));
    }
  }
}

template <std::size_t N>
bool prefix_equal(const std::array<unsigned char, N>& a, const std::array<unsigned char, N>& b,
                  unsigned prefix) {
  for (std::size_t i = 0; i < N; ++i) {
    unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= prefix) return true;
    unsigned char mask =
        prefix - bit >= 8 ? 0xFF : static_cast<unsigned char>(0xFF00u >> (prefix - bit));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

asio::ip::address unmap(const asio::ip::address& ip) {
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  }
  return ip;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  std::string_view addr_text = text;
  std::optional<unsigned> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr_text = text.substr(0, slash);
    std::string_view p = text.substr(slash + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size()) return std::nullopt;
    prefix = value;
  }
  asio::error_code ec;
  auto ip = asio::ip::make_address(std::string(addr_text), ec);
  if (ec) return std::nullopt;
  ip = unmap(ip);
  Cidr out;
  if (ip.is_v4()) {
    unsigned p = prefix.value_or(32);
    if (p > 32) return std::nullopt;
    auto bytes = ip.to_v4().to_bytes();
    clear_host_bits(bytes, p);
    out.network = asio::ip::address_v4(bytes);
    out.prefix = static_cast<std::uint8_t>(p);
  } else {
    unsigned p = prefix.value_or(128);
    if (p > 128) return std::nullopt;
    auto bytes = ip.to_v6().to_bytes();
    clear_host_bits(bytes, p);
    out.network = asio::ip::address_v6(bytes);
    out.prefix = static_cast<std::uint8_t>(p);
  }
  return out;
}

bool Cidr::contains(const asio::ip::address& raw) const {
  asio::ip::address ip = unmap(raw);
  if (ip.is_v4() != network.is_v4()) return false;
  if (ip.is_v4()) return prefix_equal(ip.to_v4().to_bytes(), network.to_v4().to_bytes(), prefix);
  return prefix_equal(ip.to_v6().to_bytes(), network.to_v6().to_bytes(), prefix);
}

}  // namespace xsup::net
