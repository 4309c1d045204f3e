#pragma once
// Shadowsocks AEAD wire formats as pure functions (spec/shadowsocks.md A.3, A.4): the
// SOCKS5-style address, the chunked TCP stream and the UDP packet. No socket in sight: the
// stream and the UDP relay are thin wrappers, and the fuzz target drives these directly.
//
// Buffers are caller-owned; nothing here allocates.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "shared/base/error.h"
#include "shared/net/destination.h"
#include "worker/proxy/shadowsocks/cipher.h"

namespace xsup::worker::proxy::shadowsocks {

using base::Expected;

template <class T>
struct Parsed {
  T value;
  std::size_t consumed = 0;
};

// A.3: ATYP(1) ADDR PORT(2); the longest is a 255-byte domain.
inline constexpr std::size_t kMaxAddressSize = 1 + 1 + 255 + 2;
// A.3: the length of a chunk, 14 bits.
inline constexpr std::size_t kMaxChunkPayload = 0x3FFF;
// [AEAD(len16)] = 2 + tag.
inline constexpr std::size_t kLengthBlockSize = 2 + kTagSize;
// A whole chunk's overhead: the length block and the payload's tag.
inline constexpr std::size_t kChunkOverhead = kLengthBlockSize + kTagSize;
// The largest chunk on the wire.
inline constexpr std::size_t kMaxChunkSize = kMaxChunkPayload + kChunkOverhead;

// ATYP ADDR PORT. ATYP is masked with 0x0F (Xray ignores the old one-time-auth bit).
// kNeedMore for a valid prefix, kProtocol for an unknown type or an empty domain.
Expected<Parsed<net::Destination>> parse_address(std::span<const std::uint8_t> in,
                                                 net::Network network);
// The encoded size of `address`; 0 when it cannot be encoded (a domain over 255 bytes).
std::size_t address_size(const net::Address& address);
// Writes ATYP ADDR PORT at the start of `out`; returns its size, 0 when it does not fit or
// cannot be encoded.
std::size_t encode_address(const net::Address& address, std::uint16_t port,
                           std::span<std::uint8_t> out);

// Opens the chunks of one direction of a TCP stream, after its salt. Stateful only in the
// AEAD nonce and in a length block already opened while its payload is still incomplete.
class ChunkOpener {
 public:
  ChunkOpener(Method method, std::span<const std::uint8_t> subkey,
              std::size_t max_payload = kMaxChunkPayload)
      : aead_(method, subkey, Aead::Direction::kOpen), max_payload_(max_payload) {}

  // Opens the chunk at the start of `in`, in place. The value is the plaintext (inside
  // `in`), `consumed` the chunk's size. kNeedMore until a whole chunk is there;
  // kProtocol for a failed tag or a length over the limit (the stream must end).
  Expected<Parsed<std::span<std::uint8_t>>> next(std::span<std::uint8_t> in);
  // How many bytes the chunk being read needs in all (a length block, or the whole chunk
  // once the length is known).
  std::size_t wanted() const {
    if (!pending_) return kLengthBlockSize;
    return (bare_ ? 0 : kLengthBlockSize) + *pending_ + kTagSize;
  }
  bool ok() const { return aead_.ok(); }

  // 2022 headers (B.2, B.3): opens exactly `size` plaintext bytes and their tag at the
  // start of `in`, in place, with the next nonce. kNeedMore until they are there.
  Expected<Parsed<std::span<std::uint8_t>>> open_block(std::span<std::uint8_t> in,
                                                       std::size_t size);
  // 2022 (B.3): the next unit is a payload of `size` bytes with no length block in front.
  void expect_payload(std::size_t size) {
    pending_ = size;
    bare_ = true;
  }

 private:
  Aead aead_;
  std::size_t max_payload_;
  std::optional<std::size_t> pending_;  // the length of a chunk whose payload is incomplete
  bool bare_ = false;                   // pending_ has no length block in front
};

// Tries the first length block of a stream with `subkey`, on a copy: true when it opens.
// (Multi-user servers try each user's key on the first bytes, A.3.)
bool first_chunk_opens(Method method, std::span<const std::uint8_t> subkey,
                       std::span<const std::uint8_t> length_block);

// Seals one chunk whose `size` plaintext bytes wait at out[kLengthBlockSize...]: writes the
// length block in front and the tag after. `out` must hold size + kChunkOverhead bytes.
// Returns the chunk's size, 0 when the AEAD failed.
std::size_t seal_chunk(Aead& aead, std::span<std::uint8_t> out, std::size_t size);

// A.4: salt || AEAD(subkey, nonce 0, address || payload). Opens `packet` with `key` into
// `out` (at least packet.size() bytes); the value is the plaintext (address and payload)
// inside `out`. kProtocol when too short or the tag fails.
Expected<std::span<std::uint8_t>> open_packet(Method method, std::span<const std::uint8_t> key,
                                              std::span<const std::uint8_t> packet,
                                              std::span<std::uint8_t> out);
// Seals a packet whose plaintext (`size` bytes) waits at out[salt_size...]: writes a fresh
// salt in front and the tag after. Returns the packet's size, 0 when the AEAD failed or
// `out` is too small.
std::size_t seal_packet(Method method, std::span<const std::uint8_t> key,
                        std::span<std::uint8_t> out, std::size_t size);
// As seal_packet with a given salt (known-answer tests).
std::size_t seal_packet_with_salt(Method method, std::span<const std::uint8_t> key,
                                  std::span<const std::uint8_t> salt, std::span<std::uint8_t> out,
                                  std::size_t size);

}  // namespace xsup::worker::proxy::shadowsocks
