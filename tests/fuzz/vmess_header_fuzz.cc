// libFuzzer target for worker/proxy/vmess/header and chunk: the header parser must be total
// on any plaintext, and what it accepts must encode back to the same bytes; the sealed
// request path (AuthID, length, header) and the chunk receiver must refuse tampered input
// without reading out of bounds.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "worker/proxy/vmess/chunk.h"
#include "worker/proxy/vmess/header.h"

namespace vmess = xsup::worker::proxy::vmess;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

const vmess::Bytes16 kCmdKey =
    vmess::cmd_key(vmess::Bytes16{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});

void fuzz_plaintext(std::span<const std::uint8_t> in) {
  auto parsed = vmess::parse_header(in);
  if (!parsed) return;
  // Re-encode with the same padding bytes: identical plaintext.
  const std::size_t padding_at = in.size() - 4 - parsed->padding;
  std::array<std::uint8_t, vmess::kMaxHeaderSize> out;
  const std::size_t n = vmess::encode_header(*parsed, in.subspan(padding_at, parsed->padding), out);
  if (n == 0) return;  // a target the encoder refuses (a domain that parses as an IP, …)
  if (parsed->target.address.is_domain()) return;  // domains are lower-cased on parse
  // Equal up to F, except Rsv (byte 36), which a server ignores and an encoder zeroes.
  check(n == in.size());
  for (std::size_t i = 0; i + 4 < n; ++i) check(i == 36 || out[i] == in[i]);
}

void fuzz_sealed(std::span<const std::uint8_t> in) {
  if (in.size() < vmess::kRequestPrefixSize) return;
  auto size = vmess::open_header_length(kCmdKey, in.first(vmess::kRequestPrefixSize));
  if (!size) return;
  check(*size <= vmess::kMaxHeaderSize);
  if (in.size() < vmess::kRequestPrefixSize + *size + 16) return;
  std::array<std::uint8_t, vmess::kMaxHeaderSize> plain;
  (void)vmess::open_header(kCmdKey, in.first(vmess::kRequestPrefixSize),
                           in.subspan(vmess::kRequestPrefixSize, *size + 16), plain.data());
}

void fuzz_chunks(std::span<const std::uint8_t> in) {
  if (in.size() < 2) return;
  vmess::RequestHeader h;
  h.security = static_cast<std::uint8_t>(3 + in[0] % 3);
  h.options = in[1];
  h.command = (in[0] & 0x80) ? vmess::Command::kUdp : vmess::Command::kTcp;
  vmess::ChunkCodec codec = vmess::request_codec(h);
  std::vector<std::uint8_t> out(vmess::kMaxChunkBody);
  std::size_t pos = 2;
  for (int i = 0; i < 64 && pos + 2 <= in.size(); ++i) {
    auto length = codec.open_length(in.data() + pos);
    pos += 2;
    if (!length) return;
    check(length->body <= vmess::kMaxChunkBody);
    if (length->eof() || pos + length->body > in.size()) return;
    auto opened = codec.open(*length, in.subspan(pos, length->body), out.data());
    if (!opened) return;
    check(*opened + length->padding + length->tag == length->body);
    pos += length->body;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  fuzz_plaintext(in);
  // The same bytes with a matching F, so that the fields behind the checksum are reached.
  if (size <= vmess::kMaxHeaderSize - 4) {
    std::array<std::uint8_t, vmess::kMaxHeaderSize> fixed;
    std::memcpy(fixed.data(), data, size);
    vmess::put_u32(fixed.data() + size, vmess::fnv1a32(in));
    fuzz_plaintext({fixed.data(), size + 4});
  }
  fuzz_sealed(in);
  fuzz_chunks(in);
  return 0;
}
