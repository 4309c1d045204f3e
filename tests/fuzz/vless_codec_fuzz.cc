// libFuzzer target for worker/proxy/vless/codec (and the shared address codec): every
// parser must be total on any input, say kNeedMore for every strict prefix of a header it
// accepts, never consume more than it was given, and what it decodes must encode back to
// bytes that decode the same. The fallback path scan rides along: it reads the same bytes.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "worker/proxy/fallback/table.h"
#include "worker/proxy/vless/codec.h"

namespace vless = xsup::worker::proxy::vless;
using xsup::base::Errc;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);

  auto request = vless::parse_request(in);
  if (request) {
    check(request->consumed > 0 && request->consumed <= in.size());
    for (std::size_t n = 0; n < request->consumed; ++n) {
      check(vless::parse_request(in.first(n)).error().is(Errc::kNeedMore));
    }
    // The encoder writes addons only for Vision: compare what it keeps.
    std::uint8_t out[vless::kMaxRequestSize];
    const std::size_t n = vless::encode_request(request->value, out);
    check(n > 0);
    auto again = vless::parse_request({out, n});
    check(again && again->consumed == n);
    check(again->value.user == request->value.user);
    check(again->value.command == request->value.command);
    check(again->value.target == request->value.target);
  } else {
    check(request.error().is(Errc::kNeedMore) || request.error().is(Errc::kProtocol));
  }

  auto response = vless::parse_response(in);
  if (response) check(response->consumed >= 2 && response->consumed <= in.size());

  auto frame = vless::parse_udp_frame(in);
  if (frame) check(frame->consumed == 2 + frame->value && frame->consumed <= in.size());

  auto path = xsup::worker::proxy::fallback::request_path(in);
  check(path.empty() || (path.front() == '/' && path.size() < 64));
  return 0;
}
