#include "worker/proxy/vless/codec.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::proxy::vless {
namespace {

using base::Errc;
using base::Error;

// Protobuf wire types (protobuf.dev/programming-guides/encoding).
constexpr std::uint8_t kWireVarint = 0;
constexpr std::uint8_t kWireFixed64 = 1;
constexpr std::uint8_t kWireBytes = 2;
constexpr std::uint8_t kWireFixed32 = 5;
// Addons (spec/vless.md §3.3): field 1 Flow (string), field 2 Seed (bytes).
constexpr std::uint64_t kFieldFlow = 1;

bool read_varint(std::span<const std::uint8_t> in, std::size_t& at, std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (at >= in.size()) return false;
    const std::uint8_t byte = in[at++];
    out |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// A protobuf parse of the Addons message: unknown fields are skipped, as Go's protobuf
// does (a known field with another wire type counts as unknown). Returns the flow.
Expected<std::string> parse_addons(std::span<const std::uint8_t> in) {
  std::string flow;
  std::size_t at = 0;
  while (at < in.size()) {
    std::uint64_t key = 0;
    if (!read_varint(in, at, key)) return Error(Errc::kProtocol, "invalid addons");
    const auto wire = static_cast<std::uint8_t>(key & 7);
    const std::uint64_t field = key >> 3;
    if (field == 0) return Error(Errc::kProtocol, "invalid addons");
    std::uint64_t value = 0;
    switch (wire) {
      case kWireVarint:
        if (!read_varint(in, at, value)) return Error(Errc::kProtocol, "invalid addons");
        break;
      case kWireFixed64:
        if (in.size() - at < 8) return Error(Errc::kProtocol, "invalid addons");
        at += 8;
        break;
      case kWireFixed32:
        if (in.size() - at < 4) return Error(Errc::kProtocol, "invalid addons");
        at += 4;
        break;
      case kWireBytes:
        if (!read_varint(in, at, value) || value > in.size() - at) {
          return Error(Errc::kProtocol, "invalid addons");
        }
        if (field == kFieldFlow) {
          flow.assign(reinterpret_cast<const char*>(in.data() + at), value);
        }
        at += value;
        break;
      default:  // groups (3, 4) and wire types 6, 7
        return Error(Errc::kProtocol, "invalid addons");
    }
  }
  return flow;
}

}  // namespace

Expected<Uuid> peek_user(std::span<const std::uint8_t> in) {
  if (in.empty()) return Error(Errc::kNeedMore);
  if (in[0] != kVersion) return Error(Errc::kProtocol, "invalid request version");
  if (in.size() < 17) return Error(Errc::kNeedMore);
  Uuid id;
  std::memcpy(id.data(), in.data() + 1, id.size());
  return id;
}

Expected<Decoded<Request>> parse_request(std::span<const std::uint8_t> in) {
  auto user = peek_user(in);
  if (!user) return user.error();
  Request out;
  out.user = *user;
  std::size_t at = 17;
  if (in.size() < at + 1) return Error(Errc::kNeedMore);
  const std::size_t addons_len = in[at++];
  if (in.size() < at + addons_len) return Error(Errc::kNeedMore);
  if (addons_len > 0) {
    auto flow = parse_addons(in.subspan(at, addons_len));
    if (!flow) return flow.error();
    out.flow = std::move(*flow);
  }
  at += addons_len;
  if (in.size() < at + 1) return Error(Errc::kNeedMore);
  const std::uint8_t command = in[at++];
  switch (command) {
    case static_cast<std::uint8_t>(Command::kMux):
    case static_cast<std::uint8_t>(Command::kReverse):
      out.command = static_cast<Command>(command);
      return Decoded<Request>{std::move(out), at};
    case static_cast<std::uint8_t>(Command::kTcp):
    case static_cast<std::uint8_t>(Command::kUdp):
      out.command = static_cast<Command>(command);
      break;
    default:
      return Error(Errc::kProtocol, "unknown command");
  }
  auto target = parse_address(in.subspan(at), AddressLayout::kPortFirst);
  if (!target) return target.error();
  out.target = std::move(target->value);
  out.target.network = out.command == Command::kUdp ? net::Network::kUdp : net::Network::kTcp;
  return Decoded<Request>{std::move(out), at + target->consumed};
}

std::size_t encode_request(const Request& request, std::span<std::uint8_t> out) {
  if (out.size() < kMaxRequestSize) return 0;
  std::size_t at = 0;
  out[at++] = kVersion;
  std::memcpy(out.data() + at, request.user.data(), request.user.size());
  at += request.user.size();
  if (request.flow == kFlowVision) {
    // Addons{Flow: "xtls-rprx-vision"}: tag 0x0A, length 16, the name.
    out[at++] = static_cast<std::uint8_t>(2 + kFlowVision.size());
    out[at++] = static_cast<std::uint8_t>((kFieldFlow << 3) | kWireBytes);
    out[at++] = static_cast<std::uint8_t>(kFlowVision.size());
    std::memcpy(out.data() + at, kFlowVision.data(), kFlowVision.size());
    at += kFlowVision.size();
  } else {
    out[at++] = 0;
  }
  out[at++] = static_cast<std::uint8_t>(request.command);
  if (request.command == Command::kTcp || request.command == Command::kUdp) {
    const std::size_t n =
        encode_address(request.target, AddressLayout::kPortFirst, out.subspan(at));
    if (n == 0) return 0;
    at += n;
  }
  return at;
}

Expected<Decoded<std::string>> parse_response(std::span<const std::uint8_t> in) {
  if (in.empty()) return Error(Errc::kNeedMore);
  if (in[0] != kVersion) return Error(Errc::kProtocol, "unexpected response version");
  if (in.size() < 2) return Error(Errc::kNeedMore);
  const std::size_t addons_len = in[1];
  if (in.size() < 2 + addons_len) return Error(Errc::kNeedMore);
  std::string flow;
  if (addons_len > 0) {
    auto parsed = parse_addons(in.subspan(2, addons_len));
    if (!parsed) return parsed.error();
    flow = std::move(*parsed);
  }
  return Decoded<std::string>{std::move(flow), 2 + addons_len};
}

Expected<Decoded<std::size_t>> parse_udp_frame(std::span<const std::uint8_t> in) {
  if (in.size() < kUdpFrameHeader) return Error(Errc::kNeedMore);
  const std::size_t size = (static_cast<std::size_t>(in[0]) << 8) | in[1];
  if (in.size() < kUdpFrameHeader + size) return Error(Errc::kNeedMore);
  return Decoded<std::size_t>{size, kUdpFrameHeader + size};
}

std::array<std::uint8_t, 2> encode_udp_length(std::size_t size) {
  return {static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size & 0xFF)};
}

}  // namespace xsup::worker::proxy::vless
