#pragma once
// VLESS wire formats as pure functions (spec/vless.md; STYLE.md §2): the request header
// with its protobuf addons, the response header, and the 2-byte length framing of UDP.
//
// Parsers take the bytes received so far and return the value with the bytes used,
// Errc::kNeedMore for a valid but incomplete prefix, or Errc::kProtocol / kUnsupported
// with a static reason. Every field is bounded by its one-byte or two-byte length.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "shared/base/error.h"
#include "shared/net/destination.h"
#include "worker/proxy/address_codec.h"

namespace xsup::worker::proxy::vless {

using base::Expected;
using Uuid = std::array<std::uint8_t, 16>;

// spec/vless.md §3: the only version.
inline constexpr std::uint8_t kVersion = 0x00;
// spec/vless.md §3.2.
enum class Command : std::uint8_t { kTcp = 0x01, kUdp = 0x02, kMux = 0x03, kReverse = 0x04 };
// spec/vless.md §3.3: the one flow Xray puts in the addons.
inline constexpr std::string_view kFlowVision = "xtls-rprx-vision";
// A configured flow that runs Vision: xtls-rprx-vision, or its -udp443 variant (which
// only lets a client proxy UDP to port 443; on the wire it is the same flow).
inline bool is_vision_flow(std::string_view flow) {
  return flow == kFlowVision || flow == "xtls-rprx-vision-udp443";
}
// spec/vless.md §9.1: with fallbacks, fewer first bytes than this go to the fallback.
inline constexpr std::size_t kMinFirstBytes = 18;
// VERSION UUID ADDONSLEN ADDONS(255) COMMAND and the longest address.
inline constexpr std::size_t kMaxRequestSize = 1 + 16 + 1 + 255 + 1 + kMaxAddressSize;
// spec/vless.md §6.2: Xray's writer drops datagrams whose frame would pass 8192 bytes.
inline constexpr std::size_t kMaxWrittenDatagram = 8192 - 2;
// The reader takes whatever the 2-byte length says.
inline constexpr std::size_t kMaxReadDatagram = 65535;

// The first 17 bytes: version and user id, all a server needs to decide between serving
// and falling back (spec/vless.md §9.1). kProtocol when the version is not 0.
Expected<Uuid> peek_user(std::span<const std::uint8_t> in);

struct Request {
  Uuid user{};
  std::string flow;  // from the addons; "" without them
  Command command = Command::kTcp;
  net::Destination target;  // network tcp or udp; empty for Mux and Rvs
};

// The whole request header (spec/vless.md §3). An addons message that is not valid
// protobuf and an unknown command are kProtocol; the caller checks the flow.
Expected<Decoded<Request>> parse_request(std::span<const std::uint8_t> in);

// Writes the request header into `out` (at least kMaxRequestSize bytes); 0 when the
// target cannot be encoded. Addons are written only for the Vision flow, as Xray does.
std::size_t encode_request(const Request& request, std::span<std::uint8_t> out);

// spec/vless.md §4: VERSION ADDONSLEN ADDONS; the value is the addons' flow.
Expected<Decoded<std::string>> parse_response(std::span<const std::uint8_t> in);
// What Xray always answers: version 0, no addons.
inline constexpr std::array<std::uint8_t, 2> kResponse{kVersion, 0x00};

// spec/vless.md §6.2: LENGTH(2) PAYLOAD. The value is the payload's size; it starts 2
// bytes into the frame.
Expected<Decoded<std::size_t>> parse_udp_frame(std::span<const std::uint8_t> in);
inline constexpr std::size_t kUdpFrameHeader = 2;
std::array<std::uint8_t, 2> encode_udp_length(std::size_t size);

}  // namespace xsup::worker::proxy::vless
