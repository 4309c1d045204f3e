// TLS SNI sniffer, spec/sniffing-routing.md §2.1. Only the first record is examined; the
// handshake type and TLS minor version are deliberately not checked (as in Xray).

#include <cstddef>
#include <string>

#include "worker/dispatch/sniff/sniffer.h"

namespace xsup::worker::dispatch::sniff {
namespace {

using base::Errc;
using base::Expected;

constexpr std::uint8_t kHandshakeRecord = 0x16;
constexpr std::uint8_t kTlsMajor = 0x03;
constexpr std::size_t kRecordHeader = 5;
// version(2) + random(32) + session id length(1) reach offset 38; 42 is the shortest body
// Xray accepts before looking further (§2.1).
constexpr std::size_t kMinBody = 42;
constexpr std::size_t kSessionIdOffset = 38;
constexpr std::size_t kMaxSessionId = 32;
constexpr std::uint16_t kServerNameExtension = 0x0000;
constexpr std::uint8_t kHostNameType = 0;

std::size_t u16(Bytes b, std::size_t at) {
  return static_cast<std::size_t>(b[at]) << 8 | static_cast<std::size_t>(b[at + 1]);
}

// The server_name extension body (RFC 6066 §3): a u16 list length equal to the data, then
// (type u8, length u16, name) entries; the first host_name entry is the answer.
Expected<SniffResult> read_server_name(Bytes data) {
  if (data.size() < 2) return {Errc::kProtocol, "tls: short server_name extension"};
  if (u16(data, 0) != data.size() - 2) return {Errc::kProtocol, "tls: bad server_name list"};
  Bytes list = data.subspan(2);
  while (!list.empty()) {
    if (list.size() < 3) return {Errc::kProtocol, "tls: truncated server_name entry"};
    std::uint8_t type = list[0];
    std::size_t length = u16(list, 1);
    list = list.subspan(3);
    if (list.size() < length) return {Errc::kProtocol, "tls: truncated server_name entry"};
    if (type == kHostNameType) {
      Bytes name = list.first(length);
      for (std::uint8_t c : name) {
        // Control bytes or spaces in a name: Xray answers "need more data" here (§2.1).
        if (c <= 0x20) return {Errc::kNeedMore, "tls: unusable byte in server name"};
      }
      if (!name.empty() && name.back() == '.') {
        return {Errc::kProtocol, "tls: server name with a trailing dot"};  // RFC 6066 §3
      }
      return SniffResult{"tls", std::string(name.begin(), name.end())};
    }
    list = list.subspan(length);
  }
  return {Errc::kProtocol, "tls: no host_name in server_name"};
}

Expected<SniffResult> read_client_hello(Bytes body) {
  if (body.size() < kMinBody) return {Errc::kNeedMore, "tls: short handshake"};
  std::size_t session_id = body[kSessionIdOffset];
  if (session_id > kMaxSessionId || body.size() < kSessionIdOffset + 1 + session_id) {
    return {Errc::kNeedMore, "tls: bad session id"};
  }
  Bytes rest = body.subspan(kSessionIdOffset + 1 + session_id);
  if (rest.size() < 2) return {Errc::kNeedMore, "tls: short handshake"};
  std::size_t suites = u16(rest, 0);
  if (suites % 2 != 0 || rest.size() < 2 + suites) {
    return {Errc::kProtocol, "tls: bad cipher suites"};
  }
  rest = rest.subspan(2 + suites);
  if (rest.empty()) return {Errc::kNeedMore, "tls: short handshake"};
  std::size_t compression = rest[0];
  if (rest.size() < 1 + compression) return {Errc::kNeedMore, "tls: short handshake"};
  rest = rest.subspan(1 + compression);
  if (rest.size() < 2) return {Errc::kProtocol, "tls: no extensions"};
  std::size_t extensions = u16(rest, 0);
  rest = rest.subspan(2);
  // The extensions must fill the record exactly (§2.1).
  if (extensions != rest.size()) return {Errc::kProtocol, "tls: bad extensions length"};
  while (!rest.empty()) {
    if (rest.size() < 4) return {Errc::kProtocol, "tls: truncated extension"};
    std::size_t type = u16(rest, 0);
    std::size_t length = u16(rest, 2);
    rest = rest.subspan(4);
    if (rest.size() < length) return {Errc::kProtocol, "tls: truncated extension"};
    if (type == kServerNameExtension) return read_server_name(rest.first(length));
    rest = rest.subspan(length);
  }
  return {Errc::kProtocol, "tls: no server_name"};
}

}  // namespace

Expected<SniffResult> sniff_tls(Bytes bytes) {
  if (bytes.size() < kRecordHeader) return {Errc::kNeedMore, "tls: short record header"};
  if (bytes[0] != kHandshakeRecord) return {Errc::kProtocol, "tls: not a handshake record"};
  if (bytes[1] != kTlsMajor) return {Errc::kProtocol, "tls: not TLS 1.x"};
  std::size_t length = u16(bytes, 3);
  if (bytes.size() < kRecordHeader + length) return {Errc::kNeedMore, "tls: partial record"};
  return read_client_hello(bytes.subspan(kRecordHeader, length));
}

}  // namespace xsup::worker::dispatch::sniff
