#include "worker/proxy/vmess/chunk.h"

#include <openssl/rand.h>

#include <cstring>

namespace xsup::worker::proxy::vmess {
namespace {

using base::Errc;
using base::Error;

std::optional<Aead> make_aead(BodyCipher cipher, const Bytes16& key) {
  switch (cipher) {
    case BodyCipher::kAes128Gcm:
      return Aead(Cipher::kAes128Gcm, key);
    case BodyCipher::kChacha20Poly1305: {
      Bytes32 expanded = chacha_key(key);
      return Aead(Cipher::kChacha20Poly1305, expanded);
    }
    case BodyCipher::kNone:
      break;
  }
  return std::nullopt;
}

}  // namespace

ChunkCodec::ChunkCodec(BodyCipher cipher, const Bytes16& key, const Bytes16& iv,
                       std::uint8_t options, bool packets)
    : aead_(make_aead(cipher, key)),
      iv_(iv),
      masking_((options & kOptChunkMasking) != 0),
      // spec/vmess.md §5: P needs M; a none stream over TCP never pads.
      padding_((options & kOptGlobalPadding) != 0 && (options & kOptChunkMasking) != 0 &&
               (cipher != BodyCipher::kNone || packets)),
      shake_(iv) {}

void ChunkCodec::nonce(std::uint8_t* out) const {
  put_u16(out, counter_);
  std::memcpy(out + 2, iv_.data() + 2, 10);
}

std::size_t ChunkCodec::seal(ByteView payload, std::uint8_t* out) {
  // spec/vmess.md §6: padding first, then the mask, in this order.
  const std::size_t pad = padding_ ? shake_.next() % (kMaxPadding + 1) : 0;
  const std::size_t ct = payload.size() + tag_size();
  std::uint8_t* body = out + kLengthFieldSize;
  if (aead_) {
    std::uint8_t n[Aead::kNonceSize];
    nonce(n);
    aead_->seal(n, {}, payload, body);
  } else if (!payload.empty()) {
    std::memmove(body, payload.data(), payload.size());
  }
  ++counter_;
  auto length = static_cast<std::uint16_t>(ct + pad);
  if (masking_) length ^= shake_.next();
  put_u16(out, length);
  if (pad > 0) RAND_bytes(body + ct, static_cast<int>(pad));
  return kLengthFieldSize + ct + pad;
}

Expected<ChunkCodec::Length> ChunkCodec::open_length(const std::uint8_t* field) {
  Length out;
  out.tag = tag_size();
  out.padding = padding_ ? shake_.next() % (kMaxPadding + 1) : 0;
  std::uint16_t l = get_u16(field);
  if (masking_) l ^= shake_.next();
  out.body = l;
  if (out.body < out.padding + out.tag) return Error(Errc::kProtocol, "chunk shorter than its tag");
  return out;
}

Expected<std::size_t> ChunkCodec::open(const Length& length, ByteView body, std::uint8_t* out) {
  const std::size_t sealed = length.body - length.padding;
  if (body.size() < sealed) return Error(Errc::kNeedMore);
  const std::size_t size = sealed - tag_size();
  if (aead_) {
    std::uint8_t n[Aead::kNonceSize];
    nonce(n);
    if (!aead_->open(n, {}, body.first(sealed), out)) {
      return Error(Errc::kAuthFailed, "chunk does not authenticate");
    }
  } else if (size > 0 && out != body.data()) {
    std::memmove(out, body.data(), size);
  }
  ++counter_;
  return size;
}

BodyCipher body_cipher(std::uint8_t security) {
  switch (static_cast<Security>(security)) {
    case Security::kAes128Gcm:
      return BodyCipher::kAes128Gcm;
    case Security::kChacha20Poly1305:
      return BodyCipher::kChacha20Poly1305;
    default:
      return BodyCipher::kNone;
  }
}

ChunkCodec request_codec(const RequestHeader& header) {
  return ChunkCodec(body_cipher(header.security), header.body_key, header.body_iv, header.options,
                    header.command == Command::kUdp);
}

ChunkCodec response_codec(const RequestHeader& header) {
  return ChunkCodec(body_cipher(header.security), response_key(header.body_key),
                    response_iv(header.body_iv), header.options, header.command == Command::kUdp);
}

}  // namespace xsup::worker::proxy::vmess
