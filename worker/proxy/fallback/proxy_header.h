#pragma once
// The PROXY protocol header a fallback destination gets before the client's bytes
// (spec/vless.md §9.3; haproxy's proxy-protocol.txt): version 1 (text) or 2 (binary), with
// the client as source and the inbound's own address as destination.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "shared/net/destination.h"

namespace xsup::worker::proxy::fallback {

// "PROXY TCP6 " + two 39-character addresses + two ports + spaces + CRLF fits in 108
// (the spec's own bound); binary v2 with IPv6 is 16 + 36 bytes.
inline constexpr std::size_t kMaxProxyHeader = 108;

struct ProxyHeader {
  std::array<std::uint8_t, kMaxProxyHeader> data{};
  std::size_t size = 0;
  std::span<const std::uint8_t> span() const { return {data.data(), size}; }
};

// `version` 1 or 2; anything else gives an empty header. Addresses that are not IPs of
// one family give "PROXY UNKNOWN\r\n" (v1) or a LOCAL header (v2).
ProxyHeader encode_proxy_header(int version, const net::Destination& source,
                                const net::Destination& local);

}  // namespace xsup::worker::proxy::fallback
