// libFuzzer target for worker/proxy/socks/codec: every parser must be total on any input,
// say kNeedMore for every strict prefix of a message it accepts, never consume more than it
// was given, and what it decodes must encode back to bytes that decode the same.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "worker/proxy/socks/codec.h"

namespace socks = xsup::worker::proxy::socks;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

template <class T>
void check_parser(std::span<const std::uint8_t> in,
                  socks::Expected<socks::Parsed<T>> (*parse)(std::span<const std::uint8_t>)) {
  auto parsed = parse(in);
  if (!parsed) {
    check(parsed.error().is(xsup::base::Errc::kNeedMore) ||
          parsed.error().is(xsup::base::Errc::kProtocol));
    return;
  }
  check(parsed->consumed > 0 && parsed->consumed <= in.size());
  for (std::size_t n = 0; n < parsed->consumed; ++n) {
    check(parse(in.first(n)).error().is(xsup::base::Errc::kNeedMore));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  check_parser(in, socks::parse_greeting);
  check_parser(in, socks::parse_credentials);
  check_parser(in, socks::parse_request);
  check_parser(in, socks::parse_request4);
  check_parser(in, socks::parse_method_choice);
  check_parser(in, socks::parse_auth_status);
  check_parser(in, socks::parse_reply);

  if (auto r = socks::parse_request(in)) {
    auto encoded = socks::encode_request(r->value.command, r->value.address, r->value.port);
    check(static_cast<bool>(encoded));
    auto again = socks::parse_request(encoded->span());
    check(again && again->value.address == r->value.address && again->value.port == r->value.port &&
          again->value.command == r->value.command);
  }
  if (auto c = socks::parse_credentials(in)) {
    auto encoded = socks::encode_credentials(c->value.user, c->value.pass);
    check(static_cast<bool>(encoded));
    auto again = socks::parse_credentials(encoded->span());
    check(again && again->value.user == c->value.user && again->value.pass == c->value.pass);
  }
  if (auto h = socks::parse_udp_header(in)) {
    check(h->consumed <= in.size());
    std::uint8_t out[socks::kMaxUdpHeaderSize];
    std::size_t n = socks::encode_udp_header(h->value.address, h->value.port, out);
    check(n == socks::udp_header_size(h->value.address) && n > 0);
    auto again = socks::parse_udp_header({out, n});
    check(again && again->consumed == n && again->value == h->value);
  }
  return 0;
}
