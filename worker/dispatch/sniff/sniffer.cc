#include "worker/dispatch/sniff/sniffer.h"

#include <array>

namespace xsup::worker::dispatch::sniff {

base::Expected<SniffResult> sniff_tcp(Bytes bytes) {
  // Candidate order for TCP (§2): HTTP, TLS, BitTorrent.
  constexpr std::array kSniffers = {&sniff_http, &sniff_tls, &sniff_bittorrent};
  bool may_match = false;
  for (auto* sniffer : kSniffers) {
    auto result = sniffer(bytes);
    if (result) return result;
    if (result.error().is(base::Errc::kNeedMore)) may_match = true;
  }
  if (may_match) return {base::Errc::kNeedMore, "sniff: need more data"};
  return {base::Errc::kProtocol, "sniff: unknown content"};
}

}  // namespace xsup::worker::dispatch::sniff
