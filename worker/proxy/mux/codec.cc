#include "worker/proxy/mux/codec.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::proxy::mux {
namespace {

using base::Errc;
using base::Error;

// spec/mux.md §1 network byte.
constexpr std::uint8_t kNetworkTcp = 0x01;
constexpr std::uint8_t kNetworkUdp = 0x02;
// SESSION(2) STATUS OPTION.
constexpr std::size_t kCommonMeta = 4;
// The common part, NETWORK, PORT(2), ATYP: the shortest New metadata.
constexpr std::size_t kMinNewMeta = 8;

std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void write_u16(std::uint8_t* p, std::size_t v) {
  p[0] = static_cast<std::uint8_t>((v >> 8) & 0xFF);
  p[1] = static_cast<std::uint8_t>(v & 0xFF);
}

// An address inside the metadata; it must end within it.
Expected<Decoded<net::Destination>> parse_meta_address(std::span<const std::uint8_t> meta) {
  auto address = parse_address(meta, AddressLayout::kPortFirst);
  if (!address) {
    if (address.error().is(Errc::kNeedMore)) {
      return Error(Errc::kProtocol, "mux: address overruns metadata");
    }
    return address.error();
  }
  return address;
}

}  // namespace

Expected<Decoded<Frame>> parse_frame(std::span<const std::uint8_t> in) {
  if (in.size() < 2) return Error(Errc::kNeedMore);
  const std::size_t meta_size = read_u16(in.data());
  if (meta_size > kMaxMetaSize) return Error(Errc::kProtocol, "mux: metadata too long");
  if (meta_size < kCommonMeta) return Error(Errc::kProtocol, "mux: metadata too short");
  if (in.size() < 2 + meta_size) return Error(Errc::kNeedMore);
  const auto meta = in.subspan(2, meta_size);

  Frame frame;
  frame.session_id = read_u16(meta.data());
  const std::uint8_t status = meta[2];
  frame.option = meta[3];
  switch (status) {
    case static_cast<std::uint8_t>(Status::kNew): {
      if (meta_size < kMinNewMeta) return Error(Errc::kProtocol, "mux: New too short");
      const std::uint8_t network = meta[4];
      if (network != kNetworkTcp && network != kNetworkUdp) {
        return Error(Errc::kProtocol, "mux: unknown network");
      }
      auto address = parse_meta_address(meta.subspan(5));
      if (!address) return address.error();
      address->value.network = network == kNetworkUdp ? net::Network::kUdp : net::Network::kTcp;
      frame.address = std::move(address->value);
      const std::size_t at = 5 + address->consumed;
      // spec/mux.md §1 New-frame tails: a Global ID only for UDP with data.
      if (network == kNetworkUdp && frame.has_data() && meta_size - at >= 8) {
        GlobalId id;
        std::memcpy(id.data(), meta.data() + at, id.size());
        if (std::any_of(id.begin(), id.end(), [](std::uint8_t b) { return b != 0; })) {
          frame.global_id = id;
        }
      }
      break;
    }
    case static_cast<std::uint8_t>(Status::kKeep):
      // spec/mux.md §1: an address only when byte[4] says UDP.
      if (meta_size > kCommonMeta && meta[4] == kNetworkUdp) {
        auto address = parse_meta_address(meta.subspan(5));
        if (!address) return address.error();
        address->value.network = net::Network::kUdp;
        frame.address = std::move(address->value);
      }
      break;
    case static_cast<std::uint8_t>(Status::kEnd):
    case static_cast<std::uint8_t>(Status::kKeepAlive):
      break;
    default:
      return Error(Errc::kProtocol, "mux: unknown status");
  }
  frame.status = static_cast<Status>(status);

  std::size_t consumed = 2 + meta_size;
  if (frame.has_data()) {
    if (in.size() < consumed + 2) return Error(Errc::kNeedMore);
    frame.data_size = read_u16(in.data() + consumed);
    consumed += 2;
  }
  return Decoded<Frame>{std::move(frame), consumed};
}

std::size_t encode_frame(const Frame& frame, std::span<std::uint8_t> out) {
  if (out.size() < kMaxFrameHeader) return 0;
  std::uint8_t* meta = out.data() + 2;
  write_u16(meta, frame.session_id);
  meta[2] = static_cast<std::uint8_t>(frame.status);
  meta[3] = frame.option;
  std::size_t at = kCommonMeta;
  const bool with_address =
      frame.address.has_value() && (frame.status == Status::kNew || frame.status == Status::kKeep);
  if (frame.status == Status::kNew && !frame.address) return 0;
  if (with_address) {
    const bool udp = frame.address->network == net::Network::kUdp;
    // A Keep frame only carries a UDP address (spec/mux.md §1).
    if (frame.status == Status::kKeep && !udp) return 0;
    meta[at++] = udp ? kNetworkUdp : kNetworkTcp;
    const std::size_t n =
        encode_address(*frame.address, AddressLayout::kPortFirst, {meta + at, kMaxAddressSize});
    if (n == 0) return 0;
    at += n;
    if (frame.status == Status::kNew && udp && frame.global_id) {
      std::memcpy(meta + at, frame.global_id->data(), frame.global_id->size());
      at += frame.global_id->size();
    }
  }
  write_u16(out.data(), at);
  std::size_t size = 2 + at;
  if (frame.has_data()) {
    write_u16(out.data() + size, frame.data_size);
    size += 2;
  }
  return size;
}

bool is_mux_target(const net::Destination& target) {
  return !target.address.is_ip() && target.address.domain() == kMuxCoolDomain;
}

}  // namespace xsup::worker::proxy::mux
