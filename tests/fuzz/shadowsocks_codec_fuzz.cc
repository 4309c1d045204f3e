// libFuzzer target for worker/proxy/shadowsocks/codec and codec2022: the address parser,
// the 2022 header parsers and the chunk opener must be total on any input (kNeedMore for a
// prefix, kProtocol otherwise, never more than they were given), and chunks sealed from
// fuzzed plaintext cut at fuzzed points must open back to the same bytes.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "worker/proxy/shadowsocks/codec.h"
#include "worker/proxy/shadowsocks/codec2022.h"

namespace ss = xsup::worker::proxy::shadowsocks;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::uint8_t kKey[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

void fuzz_address(std::span<const std::uint8_t> in) {
  auto parsed = ss::parse_address(in, xsup::net::Network::kTcp);
  if (!parsed) {
    check(parsed.error().is(xsup::base::Errc::kNeedMore) ||
          parsed.error().is(xsup::base::Errc::kProtocol));
    return;
  }
  check(parsed->consumed > 0 && parsed->consumed <= in.size());
  std::uint8_t out[ss::kMaxAddressSize];
  const std::size_t n = ss::encode_address(parsed->value.address, parsed->value.port, out);
  check(n > 0);
  auto again = ss::parse_address({out, n}, xsup::net::Network::kTcp);
  check(again && again->value == parsed->value && again->consumed == n);
}

// Raw bytes into the opener: any outcome but a crash or an overrun.
void fuzz_opener(std::span<const std::uint8_t> in, ss::Method method) {
  std::vector<std::uint8_t> buf(in.begin(), in.end());
  ss::ChunkOpener opener(method, {kKey, ss::info(method).key_size});
  std::size_t at = 0;
  for (int i = 0; i < 64 && at <= buf.size(); ++i) {
    auto r = opener.next({buf.data() + at, buf.size() - at});
    if (!r) return;
    check(r->consumed >= ss::kChunkOverhead && r->consumed <= buf.size() - at);
    at += r->consumed;
  }
}

// Plaintext sealed into chunks (sizes from the input), reopened through a byte-by-byte
// growing window.
void fuzz_round_trip(std::span<const std::uint8_t> in, ss::Method method) {
  if (in.empty()) return;
  const std::span<const std::uint8_t> key(kKey, ss::info(method).key_size);
  ss::Aead sealer(method, key, ss::Aead::Direction::kSeal);
  std::vector<std::uint8_t> wire;
  std::vector<std::uint8_t> plain(in.begin() + 1, in.end());
  const std::size_t step = 1 + in[0] % 61;
  for (std::size_t at = 0; at < plain.size(); at += step) {
    const std::size_t n = std::min(step, plain.size() - at);
    const std::size_t base = wire.size();
    wire.resize(base + n + ss::kChunkOverhead);
    std::memcpy(wire.data() + base + ss::kLengthBlockSize, plain.data() + at, n);
    check(ss::seal_chunk(sealer, {wire.data() + base, n + ss::kChunkOverhead}, n) ==
          n + ss::kChunkOverhead);
  }
  ss::ChunkOpener opener(method, key);
  std::vector<std::uint8_t> out;
  std::size_t begin = 0;
  for (std::size_t end = 0; end <= wire.size(); ++end) {
    for (;;) {
      auto r = opener.next({wire.data() + begin, end - begin});
      if (!r) {
        check(r.error().is(xsup::base::Errc::kNeedMore));
        break;
      }
      out.insert(out.end(), r->value.begin(), r->value.end());
      begin += r->consumed;
    }
  }
  check(begin == wire.size() && out == plain);
}

// The 2022 header parsers on raw plaintext: total, and never past the input.
void fuzz_2022(std::span<const std::uint8_t> in) {
  const std::int64_t now = 1700000000;
  (void)ss::parse_fixed_request(in, now);
  if (auto var = ss::parse_variable_request(in)) check(var->payload_offset <= in.size());
  for (std::uint8_t type : {ss::kTypeClient, ss::kTypeServer}) {
    if (auto main = ss::parse_udp_main_header(in, type, now)) {
      check(main->payload_offset <= in.size());
    }
  }
  if (in.size() >= 8) (void)ss::parse_fixed_response(in, now, in.first(8));
  ss::PacketWindow window;
  for (std::size_t i = 0; i + 8 <= in.size() && i < 512; i += 8) {
    (void)window.accept(ss::get_u64(in.data() + i));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  fuzz_address(in);
  fuzz_2022(in);
  const auto method = static_cast<ss::Method>(size > 0 ? data[0] % 7 : 0);
  fuzz_opener(in, method);
  if (size < 4096) fuzz_round_trip(in, method);
  std::vector<std::uint8_t> out(size);
  auto opened = ss::open_packet(method, {kKey, ss::info(method).key_size}, in, out);
  check(!opened);  // random bytes never carry a valid tag
  return 0;
}
