// libFuzzer target for worker/proxy/trojan/codec (and the shared address codec): every
// parser must be total on any input, say kNeedMore for every strict prefix of what it
// accepts, never consume more than it was given, and what it decodes must encode back to
// bytes that decode the same.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "worker/proxy/trojan/codec.h"

namespace trojan = xsup::worker::proxy::trojan;
using xsup::base::Errc;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);

  if (auto key = trojan::peek_key(in)) check(key->size() == trojan::kKeySize);

  auto request = trojan::parse_request(in);
  if (request) {
    check(request->consumed <= in.size());
    for (std::size_t n = 0; n < request->consumed; ++n) {
      auto prefix = trojan::parse_request(in.first(n));
      check(!prefix && prefix.error().is(Errc::kNeedMore));
    }
    std::uint8_t out[trojan::kMaxRequestSize];
    const std::size_t n = trojan::encode_request(request->value, out);
    check(n > 0);
    auto again = trojan::parse_request({out, n});
    check(again && again->consumed == n && again->value.target == request->value.target);
  }

  auto packet = trojan::parse_udp_packet(in);
  if (packet) {
    const auto& p = packet->value;
    check(p.payload_offset + p.payload_size == packet->consumed && packet->consumed <= in.size());
    check(p.payload_size <= trojan::kMaxDatagram);
    std::uint8_t header[trojan::kMaxUdpHeader];
    const std::size_t n = trojan::encode_udp_header(p.address, p.payload_size, header);
    // A domain that reads as an IP ("5::") comes back as an address, of another size.
    check(n > 0 && (p.address.address.is_ip() || n == p.payload_offset));
  } else {
    check(packet.error().is(Errc::kNeedMore) || packet.error().is(Errc::kProtocol) ||
          packet.error().is(Errc::kTooLarge));
  }
  return 0;
}
