#pragma once
// The destination address as the proxy protocols write it (pure functions, STYLE.md §2).
// Two layouts share one reader:
//   port first (VLESS, VMess, Mux.Cool; spec/vless.md §3.1): PORT(2) ATYP ADDR, with ATYP
//     1 = IPv4, 2 = domain, 3 = IPv6;
//   SOCKS5 order (Trojan, Shadowsocks; spec/trojan.md §1): ATYP ADDR PORT(2), with ATYP
//     1 = IPv4, 3 = domain, 4 = IPv6.
// A domain is checked as Xray checks it: one that looks like an IP literal becomes that IP,
// any other must be made of [0-9A-Za-z-._].

#include <cstddef>
#include <cstdint>
#include <span>

#include "shared/base/error.h"
#include "shared/net/destination.h"

namespace xsup::worker::proxy {

using base::Expected;

enum class AddressLayout { kPortFirst, kSocks };

// PORT(2) ATYP(1) LEN(1) and the longest domain.
inline constexpr std::size_t kMaxAddressSize = 2 + 1 + 1 + 255;

template <class T>
struct Decoded {
  T value;
  std::size_t consumed = 0;
};

// Reads one address at the start of `in`: Errc::kNeedMore for a valid but incomplete
// prefix, Errc::kProtocol for an unknown ATYP, an empty or invalid domain. The result's
// network is tcp; the caller sets it.
Expected<Decoded<net::Destination>> parse_address(std::span<const std::uint8_t> in,
                                                  AddressLayout layout);

// The encoded size of `address`; 0 when it cannot be encoded (an empty domain or one over
// 255 bytes).
std::size_t address_size(const net::Address& address);

// Writes `to` at the start of `out`; returns the size written, 0 when it cannot be
// encoded or `out` is too small.
std::size_t encode_address(const net::Destination& to, AddressLayout layout,
                           std::span<std::uint8_t> out);

}  // namespace xsup::worker::proxy
