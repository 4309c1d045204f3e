#pragma once
// Payload sniffers (spec/sniffing-routing.md §2): pure functions from the bytes a client sent
// so far to the protocol it speaks and, where the protocol carries one, the domain it wants.
// The dispatcher owns the read loop, the 32767-byte cache and the 200 ms budget; these
// functions only look at the prefix they are given and never read past it.
//
// Every sniffer is total (any input gives a value or an error, never a crash) and answers:
//   - a SniffResult: the protocol was recognised (domain may be empty, e.g. BitTorrent);
//   - Errc::kNeedMore: too short to decide, or recognised but incomplete — the protocol may
//     still match once more bytes arrive (Xray's "no clue" and "need more data");
//   - Errc::kProtocol: definitely not this protocol; drop the sniffer.

#include <cstdint>
#include <span>
#include <string>

#include "shared/base/error.h"

namespace xsup::worker::dispatch::sniff {

struct SniffResult {
  std::string protocol;  // "tls", "http1", "bittorrent": routing `protocol` rules match by prefix
  std::string domain;    // lower-case for HTTP; as sent for TLS SNI; empty when none
};

using Bytes = std::span<const std::uint8_t>;

// TLS ClientHello SNI from the first record (§2.1); protocol "tls".
base::Expected<SniffResult> sniff_tls(Bytes bytes);

// HTTP/1.x request Host header (§2.2); protocol "http1"; host lower-cased, port stripped,
// an IPv6 literal returned without its brackets.
base::Expected<SniffResult> sniff_http(Bytes bytes);

// BitTorrent peer-wire handshake over TCP (§2.4); protocol "bittorrent", no domain.
base::Expected<SniffResult> sniff_bittorrent(Bytes bytes);

// The TCP candidates in Xray's order (§2: HTTP, TLS, BitTorrent): the first result wins;
// kNeedMore while any candidate may still match; kProtocol when all are ruled out.
base::Expected<SniffResult> sniff_tcp(Bytes bytes);

}  // namespace xsup::worker::dispatch::sniff
