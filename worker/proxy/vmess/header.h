#pragma once
// VMess AEAD request and response headers as pure functions (spec/vmess.md §2, §3, §7):
// AuthID, the sealed length and the sealed command header of a request, and the sealed
// response header. Parsers are bounded (a header is at most kMaxHeaderSize bytes) and
// return errors as values; encoders write into caller-provided fixed storage.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "shared/base/error.h"
#include "shared/net/destination.h"
#include "worker/proxy/vmess/primitives.h"

namespace xsup::worker::proxy::vmess {

using base::Expected;

// spec/vmess.md §3.1.
inline constexpr std::uint8_t kHeaderVersion = 0x01;
enum class Command : std::uint8_t { kTcp = 0x01, kUdp = 0x02, kMux = 0x03 };
// spec/vmess.md §4: the low nibble of the security byte.
enum class Security : std::uint8_t {
  kAes128Gcm = 3,
  kChacha20Poly1305 = 4,
  kNone = 5,
  kZero = 6,
};
// spec/vmess.md §5: option bits.
inline constexpr std::uint8_t kOptChunkStream = 0x01;
inline constexpr std::uint8_t kOptChunkMasking = 0x04;
inline constexpr std::uint8_t kOptGlobalPadding = 0x08;
inline constexpr std::uint8_t kOptAuthenticatedLength = 0x10;

inline constexpr std::size_t kAuthIdSize = 16;
inline constexpr std::size_t kSealedLengthSize = 2 + Aead::kTagSize;  // 18
inline constexpr std::size_t kConnectionNonceSize = 8;
// AuthID ‖ EncLength ‖ ConnectionNonce: what the server reads before it knows the length.
inline constexpr std::size_t kRequestPrefixSize =
    kAuthIdSize + kSealedLengthSize + kConnectionNonceSize;  // 42
// The longest header plaintext: fixed 41 bytes + ATYP + a 255-byte domain with its length
// + 15 padding bytes + F. Longer announced lengths are refused before anything is read.
inline constexpr std::size_t kMaxHeaderSize = 41 + 1 + 256 + 15 + 4;  // 317
inline constexpr std::size_t kMaxRequestSize = kRequestPrefixSize + kMaxHeaderSize + Aead::kTagSize;
// spec/vmess.md §2: the AuthID time window, seconds either side of now.
inline constexpr std::int64_t kAuthIdWindow = 120;
// spec/vmess.md §7: V 00 00 00 sealed: 18-byte length + 4 + 16.
inline constexpr std::size_t kResponseHeaderSize = kSealedLengthSize + 4 + Aead::kTagSize;

// spec/vmess.md §2.
Bytes16 auth_id_key(const Bytes16& cmd_key);
Bytes16 make_auth_id(const AesBlock& key, std::int64_t unix_time, std::uint32_t random);
// The AuthID's timestamp when its CRC matches under this key (it is this user's).
std::optional<std::int64_t> open_auth_id(const AesBlock& key, const Bytes16& auth_id);

struct RequestHeader {
  Bytes16 body_iv{};
  Bytes16 body_key{};
  std::uint8_t response_auth = 0;  // V, echoed by the server
  std::uint8_t options = 0;
  std::uint8_t padding = 0;   // 0..15 random bytes before F
  std::uint8_t security = 0;  // raw nibble (Security)
  Command command = Command::kTcp;
  net::Destination target;  // absent for kMux
};

// The header plaintext (Ver … F) into out (>= kMaxHeaderSize); 0 when it cannot be encoded
// (domain over 255 bytes, empty target). padding_bytes supplies header.padding bytes.
std::size_t encode_header(const RequestHeader& header, ByteView padding_bytes,
                          std::span<std::uint8_t> out);
// Decodes a header plaintext; checks F, Ver and the address (kProtocol with a reason).
Expected<RequestHeader> parse_header(ByteView plaintext);

// The request's sealed parts (spec/vmess.md §3). seal_request writes AuthID ‖ EncLength ‖
// nonce ‖ EncHeader to out (>= kMaxRequestSize) and returns the size.
std::size_t seal_request(const Bytes16& cmd_key, const Bytes16& auth_id,
                         std::span<const std::uint8_t, kConnectionNonceSize> nonce,
                         ByteView header_plaintext, std::span<std::uint8_t> out);
// Server side: the header length from the first kRequestPrefixSize bytes (kAuthFailed when
// the tag does not match, kTooLarge when over kMaxHeaderSize).
Expected<std::size_t> open_header_length(const Bytes16& cmd_key, ByteView prefix);
// Server side: opens EncHeader (size + 16 bytes) into out (>= size).
base::Status open_header(const Bytes16& cmd_key, ByteView prefix, ByteView sealed,
                         std::uint8_t* out);

// spec/vmess.md §6: the response direction's key and IV.
Bytes16 response_key(const Bytes16& body_key);
Bytes16 response_iv(const Bytes16& body_iv);

// spec/vmess.md §7: V 00 00 00, sealed; out holds kResponseHeaderSize bytes.
void seal_response_header(const Bytes16& resp_key, const Bytes16& resp_iv, std::uint8_t v,
                          std::span<std::uint8_t, kResponseHeaderSize> out);
// Client side: the response header length from its first 18 bytes.
Expected<std::size_t> open_response_length(const Bytes16& resp_key, const Bytes16& resp_iv,
                                           ByteView sealed_length);
// Client side: opens the response header (size + 16 bytes) and returns V.
Expected<std::uint8_t> open_response_header(const Bytes16& resp_key, const Bytes16& resp_iv,
                                            ByteView sealed);

}  // namespace xsup::worker::proxy::vmess
