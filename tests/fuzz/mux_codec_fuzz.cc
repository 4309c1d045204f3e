// libFuzzer target for worker/proxy/mux/codec: parse_frame must be total on any input,
// say kNeedMore for every strict prefix of a header it accepts, never consume more than
// it was given, and what it decodes must encode back to a header that decodes the same.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "worker/proxy/mux/codec.h"

namespace mux = xsup::worker::proxy::mux;
using xsup::base::Errc;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto frame = mux::parse_frame(in);
  if (!frame) {
    check(frame.error().is(Errc::kNeedMore) || frame.error().is(Errc::kProtocol));
    return 0;
  }
  check(frame->consumed >= 6 && frame->consumed <= in.size());
  check(frame->consumed <= mux::kMaxFrameHeader);
  for (std::size_t n = 0; n < frame->consumed; ++n) {
    check(mux::parse_frame(in.first(n)).error().is(Errc::kNeedMore));
  }
  std::uint8_t out[mux::kMaxFrameHeader];
  const std::size_t n = mux::encode_frame(frame->value, out);
  // Not n <= consumed: a domain that reads as an IP ("0::") comes back as an address,
  // up to 13 bytes longer; unknown metadata bytes are dropped.
  check(n > 0);
  auto again = mux::parse_frame({out, n});
  check(again && again->consumed == n);
  const mux::Frame& a = frame->value;
  const mux::Frame& b = again->value;
  check(a.session_id == b.session_id && a.status == b.status && a.option == b.option);
  check(a.address == b.address && a.global_id == b.global_id && a.data_size == b.data_size);
  return 0;
}
