// BitTorrent peer-wire handshake sniffer (TCP), spec/sniffing-routing.md §2.4: a length byte
// of 19 followed by the protocol string.

#include <string_view>

#include "worker/dispatch/sniff/sniffer.h"

namespace xsup::worker::dispatch::sniff {
namespace {

constexpr std::string_view kProtocolString = "BitTorrent protocol";
constexpr std::size_t kHandshakePrefix = 1 + kProtocolString.size();  // 20 bytes (§2.4)

}  // namespace

base::Expected<SniffResult> sniff_bittorrent(Bytes bytes) {
  if (bytes.size() < kHandshakePrefix) return {base::Errc::kNeedMore, "bittorrent: short"};
  std::string_view name(reinterpret_cast<const char*>(bytes.data()) + 1, kProtocolString.size());
  if (bytes[0] != kProtocolString.size() || name != kProtocolString) {
    return {base::Errc::kProtocol, "bittorrent: no handshake"};
  }
  return SniffResult{"bittorrent", ""};
}

}  // namespace xsup::worker::dispatch::sniff
