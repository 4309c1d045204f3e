#include "worker/proxy/trojan/udp_framing.h"

#include "worker/proxy/trojan/codec.h"

namespace xsup::worker::proxy::trojan {
namespace {

static_assert(kMaxUdpHeader <= kMaxDatagramHeader);

Expected<DatagramFrame> parse(std::span<const std::uint8_t> in) {
  auto packet = parse_udp_packet(in);
  if (!packet) return packet.error();
  return DatagramFrame{std::move(packet->value.address), packet->value.payload_offset,
                       packet->value.payload_size, packet->consumed};
}

}  // namespace

const DatagramFraming kUdpFraming{parse, encode_udp_header, kMaxUdpHeader,
                                  kMaxUdpHeader + kMaxDatagram, kMaxDatagram};

}  // namespace xsup::worker::proxy::trojan
