#include "worker/proxy/vless/udp_framing.h"

#include "worker/proxy/vless/codec.h"

namespace xsup::worker::proxy::vless {
namespace {

Expected<DatagramFrame> parse(std::span<const std::uint8_t> in) {
  auto frame = parse_udp_frame(in);
  if (!frame) return frame.error();
  return DatagramFrame{std::nullopt, kUdpFrameHeader, frame->value, frame->consumed};
}

std::size_t encode_header(const net::Destination& /*address*/, std::size_t size,
                          std::span<std::uint8_t> out) {
  if (out.size() < kUdpFrameHeader || size > kMaxReadDatagram) return 0;
  const auto length = encode_udp_length(size);
  out[0] = length[0];
  out[1] = length[1];
  return kUdpFrameHeader;
}

}  // namespace

const DatagramFraming kUdpFraming{parse, encode_header, kUdpFrameHeader,
                                  kUdpFrameHeader + kMaxReadDatagram, kMaxWrittenDatagram};

}  // namespace xsup::worker::proxy::vless
