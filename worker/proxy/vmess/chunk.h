#pragma once
// The VMess body chunk stream of one direction (spec/vmess.md §6): a 2-byte length, masked
// with SHAKE128(IV) when option M is on, the AEAD-sealed payload with nonce
// `counter ‖ IV[2:12]`, and 0..63 random padding bytes when option P is on. Security
// `none` (legacy, behind a switch) uses the same framing with no tag.
//
// Pure and allocation-free after construction: the sender seals into caller storage, the
// receiver decodes the length field first, then opens the body the caller has read.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "shared/base/error.h"
#include "worker/proxy/vmess/header.h"
#include "worker/proxy/vmess/primitives.h"

namespace xsup::worker::proxy::vmess {

// spec/vmess.md §6 "Sizes": a writer keeps lengthField + ct + maxPadding <= 8192.
inline constexpr std::size_t kMaxChunkWire = 8192;
inline constexpr std::size_t kLengthFieldSize = 2;
inline constexpr std::size_t kMaxPadding = 63;
// The largest L a receiver accepts (the 16-bit field).
inline constexpr std::size_t kMaxChunkBody = 65535;

// The body cipher a header's security nibble selects (spec/vmess.md §4).
enum class BodyCipher : std::uint8_t { kAes128Gcm, kChacha20Poly1305, kNone };

class ChunkCodec {
 public:
  // key/iv of this direction (request: BodyKey/BodyIV; response: RespKey/RespIV).
  // `packets` is true for UDP (Cmd 2): security none then pads like the AEADs; over TCP
  // it never pads (v2ray's ChunkStreamWriter).
  ChunkCodec(BodyCipher cipher, const Bytes16& key, const Bytes16& iv, std::uint8_t options,
             bool packets);

  std::size_t tag_size() const { return aead_ ? Aead::kTagSize : 0; }
  bool padding() const { return padding_; }
  // The largest payload of one chunk.
  std::size_t max_payload() const {
    return kMaxChunkWire - kLengthFieldSize - tag_size() - (padding_ ? kMaxPadding + 1 : 0);
  }
  // The most bytes seal() writes for `payload` bytes.
  std::size_t sealed_bound(std::size_t payload) const {
    return kLengthFieldSize + payload + tag_size() + (padding_ ? kMaxPadding : 0);
  }

  // Sender: one chunk (payload <= max_payload(), empty = end of stream) into out; returns
  // the bytes written. Padding bytes are random.
  std::size_t seal(ByteView payload, std::uint8_t* out);

  struct Length {
    std::size_t body = 0;     // L: bytes that follow the length field
    std::size_t padding = 0;  // of which trailing padding
    bool eof() const { return body == padding + tag; }
    std::size_t tag = 0;
  };
  // Receiver: decodes a length field (advances the mask stream). kProtocol when L cannot
  // hold the padding and the tag.
  Expected<Length> open_length(const std::uint8_t* field);
  // Receiver: opens the first L - padding bytes of the body into out (out may equal
  // body.data()); returns the payload size. kAuthFailed when the tag does not match.
  Expected<std::size_t> open(const Length& length, ByteView body, std::uint8_t* out);

 private:
  void nonce(std::uint8_t* out) const;

  std::optional<Aead> aead_;
  Bytes16 iv_;
  std::uint16_t counter_ = 0;
  bool masking_;
  bool padding_;
  Shake128Stream shake_;
};

// The cipher and keys of each direction for a header (spec/vmess.md §4, §6).
BodyCipher body_cipher(std::uint8_t security);
ChunkCodec request_codec(const RequestHeader& header);
ChunkCodec response_codec(const RequestHeader& header);

}  // namespace xsup::worker::proxy::vmess
