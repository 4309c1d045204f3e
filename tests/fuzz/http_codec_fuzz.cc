// libFuzzer target for the HTTP proxy codec and the base64 it uses: every parser must be
// total on any input, and what it accepts must serialise without touching memory outside
// the input.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shared/base/base64.h"
#include "worker/proxy/http/codec.h"

using namespace xsup::worker::proxy::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto head = parse_request_head(input)) {
    if (auto target = parse_request_target(*head)) {
      (void)parse_authority(target->authority, 80);
      (void)serialize_request(*head, *target, target->authority, size % 2 == 0);
    }
    (void)request_body_framing(*head);
    if (auto auth = find_header(head->headers, "proxy-authorization")) {
      (void)decode_basic_auth(*auth);
    }
    // The bytes after a head are a body: run them through the chunked decoder, in two
    // pieces split where the input's first byte says, as reads would deliver them.
    std::string_view rest = input.substr(head->size);
    std::size_t split = size > 0 ? data[0] % (rest.size() + 1) : 0;
    ChunkedDecoder chunked;
    auto first = chunked.feed(rest.substr(0, split));
    if (first && !chunked.done()) (void)chunked.feed(rest.substr(split));
  }
  if (auto head = parse_response_head(input, 4096)) {
    (void)response_body_framing(*head, "GET");
    (void)serialize_response(*head, size % 2 == 0, size % 3 == 0);
  }
  ChunkedDecoder chunked;
  (void)chunked.feed(input);
  (void)decode_basic_auth(input);
  // Base64 (shared/base): decoding is strict (no stray pad bits), so a text it accepts is
  // the one encoding of its bytes; the URL form takes padding or none.
  using xsup::base::Base64;
  if (auto decoded = xsup::base::base64_decode(input)) {
    if (xsup::base::base64_encode(*decoded) != input) __builtin_trap();
  }
  if (auto decoded = xsup::base::base64url_decode(input)) {
    std::string_view unpadded = input.substr(0, input.find_last_not_of('=') + 1);
    if (xsup::base::base64_encode(*decoded, Base64::kUrl) != unpadded) __builtin_trap();
  }
  return 0;
}
