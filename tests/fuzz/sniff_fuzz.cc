// libFuzzer target for the TCP sniffers (spec/sniffing-routing.md §2): every sniffer must be
// total on arbitrary bytes, and a result must be stable once the protocol is recognised.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "worker/dispatch/sniff/sniffer.h"

namespace sniff = xsup::worker::dispatch::sniff;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> bytes(data, size);
  auto tls = sniff::sniff_tls(bytes);
  auto http = sniff::sniff_http(bytes);
  auto bittorrent = sniff::sniff_bittorrent(bytes);
  auto any = sniff::sniff_tcp(bytes);
  // The combinator agrees with its parts: a result iff one part has one.
  if (static_cast<bool>(any) != (tls || http || bittorrent)) std::abort();
  if (any && any->protocol.empty()) std::abort();
  if (http && http->domain.empty()) std::abort();
  return 0;
}
