#pragma once
// Shadowsocks 2022 wire formats as pure functions (spec/shadowsocks.md Part B, SIP022 and
// SIP023): the request and response headers of a TCP stream, the identity headers of
// multi-user AES servers, and UDP packets. Timestamps are parameters, so the spec's
// vectors test them; callers pass the clock.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "shared/base/error.h"
#include "shared/net/destination.h"
#include "worker/proxy/shadowsocks/cipher.h"
#include "worker/proxy/shadowsocks/codec.h"

namespace xsup::worker::proxy::shadowsocks {

// B.2/B.3: header types.
inline constexpr std::uint8_t kTypeClient = 0;
inline constexpr std::uint8_t kTypeServer = 1;
// B.2: timestamps more than this far from now are refused.
inline constexpr std::int64_t kMaxTimeSkew = 30;
// B.2: type(1) timestamp(8) length(2).
inline constexpr std::size_t kFixedRequestSize = 11;
// B.2: after the headers, chunks carry up to 0xFFFF bytes.
inline constexpr std::size_t kMaxChunkPayload2022 = 0xFFFF;
// B.2: sing pads short first payloads with 1..900 bytes.
inline constexpr std::size_t kMaxPadding = 900;
// B.5: one identity header.
inline constexpr std::size_t kEihSize = 16;
// B.4: session id(8) packet id(8).
inline constexpr std::size_t kSeparateHeaderSize = 16;
// B.4: the XChaCha20 nonce in front of a ChaCha packet.
inline constexpr std::size_t kUdpChachaNonceSize = 24;

using PskHash = std::array<std::uint8_t, 16>;

// BLAKE3(psk)[0:16] (B.5): how a uPSK is named in identity headers.
PskHash psk_hash(std::span<const std::uint8_t> psk);
// derive_key("shadowsocks 2022 identity subkey", psk || salt), psk-sized (B.5).
Key identity_subkey(std::span<const std::uint8_t> psk, std::span<const std::uint8_t> salt);

// B.5 TCP: the n-1 identity headers for a PSK chain, right after the salt. Returns the
// bytes written (16 per header), 0 when `out` is too small or AES fails.
std::size_t encode_tcp_identity(std::span<const Key> psks, std::size_t key_size,
                                std::span<const std::uint8_t> salt, std::span<std::uint8_t> out);
// The server's side of the first identity header: the uPSK hash it names.
bool decode_tcp_identity(std::span<const std::uint8_t> ipsk, std::span<const std::uint8_t> salt,
                         std::span<const std::uint8_t, kEihSize> eih, PskHash& out);

// B.2 client: the fixed and variable headers, sealed with `sealer` (nonces 0 and 1), at
// the start of `out`: target, `padding` zero bytes, then `payload`. Returns the bytes
// written, 0 when `out` is too small, the address cannot be encoded, the variable header
// is over 0xFFFF or it would be empty of both padding and payload.
std::size_t seal_request_headers(Aead& sealer, std::uint64_t timestamp,
                                 const net::Destination& target, std::size_t padding,
                                 std::span<const std::uint8_t> payload,
                                 std::span<std::uint8_t> out);
// B.2 server: checks an opened fixed header (type, time); the value is VarLen.
Expected<std::size_t> parse_fixed_request(std::span<const std::uint8_t> plain, std::int64_t now);
struct VariableRequest {
  net::Destination target;
  std::size_t payload_offset = 0;  // the initial payload runs from here to the end
};
// B.2 server: an opened variable header.
Expected<VariableRequest> parse_variable_request(std::span<const std::uint8_t> plain);

// B.3: the fixed response header's plaintext size for a salt size.
inline constexpr std::size_t fixed_response_size(std::size_t salt_size) {
  return 1 + 8 + salt_size + 2;
}
// B.3 server: writes the fixed response header plaintext; returns its size.
std::size_t encode_fixed_response(std::uint64_t timestamp,
                                  std::span<const std::uint8_t> request_salt,
                                  std::size_t payload_size, std::span<std::uint8_t> out);
// B.3 client: checks an opened fixed response header (type, time, the echoed salt equal to
// ours); the value is the initial payload's length.
Expected<std::size_t> parse_fixed_response(std::span<const std::uint8_t> plain, std::int64_t now,
                                           std::span<const std::uint8_t> request_salt);

// ---- UDP (B.4) ----------------------------------------------------------------------------

struct UdpPacketHeader {
  std::uint64_t session_id = 0;
  std::uint64_t packet_id = 0;
};

// The outer layout of one packet for `method`: what comes before the AEAD body.
std::size_t udp_prefix_size(Method method, std::size_t identity_headers);

// Seals a packet whose body plaintext (MainHeader || payload, `size` bytes) waits at
// out[udp_prefix_size(...)] (AES) or out[24 + 16] (ChaCha: the separate header goes inside
// the AEAD, the function writes it). `psks` is the chain (iPSK first); `body_key` the
// session key derived from the last PSK and header.session_id (AES only). Returns the
// packet's size, 0 on failure.
std::size_t seal_udp_packet(Method method, std::span<const Key> psks,
                            std::span<const std::uint8_t> body_key, const UdpPacketHeader& header,
                            std::span<std::uint8_t> out, std::size_t size);
// As seal_udp_packet for ChaCha with a given nonce (known-answer tests).
std::size_t seal_udp_chacha_with_nonce(std::span<const std::uint8_t> psk,
                                       std::span<const std::uint8_t, kUdpChachaNonceSize> nonce,
                                       const UdpPacketHeader& header, std::span<std::uint8_t> out,
                                       std::size_t size);

// AES: decrypts the separate header at the start of a packet with `key` (PSK0 on a
// server, the user's PSK on a client); `plain` gets its 16 plaintext bytes.
bool open_udp_separate_header(std::span<const std::uint8_t> key, const std::uint8_t in[16],
                              std::uint8_t plain[16], UdpPacketHeader& out);
// AES server: the uPSK hash named by the identity header after the separate header.
bool decode_udp_identity(std::span<const std::uint8_t> ipsk, const std::uint8_t eih[16],
                         const std::uint8_t separate_plain[16], PskHash& out);
// AES: opens the body (`body` = ciphertext and tag) in place with the session key and the
// nonce from the separate header; the value is the plaintext.
Expected<std::span<std::uint8_t>> open_udp_body(Method method,
                                                std::span<const std::uint8_t> body_key,
                                                const std::uint8_t separate_plain[16],
                                                std::span<std::uint8_t> body);
// ChaCha: opens a whole packet in place with the PSK; the value is the body after the
// separate header, whose fields go to `header`.
Expected<std::span<std::uint8_t>> open_udp_chacha(std::span<const std::uint8_t> psk,
                                                  std::span<std::uint8_t> packet,
                                                  UdpPacketHeader& header);
// The session key of a UDP session: derive_key(session subkey, PSK || session id BE).
Key udp_session_key(Method method, std::span<const std::uint8_t> psk, std::uint64_t session_id);

// The main header of a packet: client -> server (type 0) or server -> client (type 1,
// which carries the client's session id). Writes it at the start of `out`; returns its
// size, 0 when it does not fit.
std::size_t encode_udp_main_header(std::uint8_t type, std::uint64_t timestamp,
                                   std::uint64_t client_session_id, std::size_t padding,
                                   const net::Destination& address, std::span<std::uint8_t> out);
struct UdpMainHeader {
  std::uint64_t client_session_id = 0;  // type 1 only
  net::Destination address;
  std::size_t payload_offset = 0;
};
// Checks type and time and parses the rest of an opened body.
Expected<UdpMainHeader> parse_udp_main_header(std::span<const std::uint8_t> body, std::uint8_t type,
                                              std::int64_t now);

// B.4 replay window: 128 blocks of 64 bits per session.
class PacketWindow {
 public:
  // True (and remembered) when `id` was not seen and is not too old.
  bool accept(std::uint64_t id);

 private:
  static constexpr std::size_t kBlocks = 128;
  std::uint64_t last_ = 0;
  bool started_ = false;
  std::array<std::uint64_t, kBlocks> bits_{};
};

// Big-endian helpers shared with the relays.
void put_u64(std::uint8_t* p, std::uint64_t v);
std::uint64_t get_u64(const std::uint8_t* p);

}  // namespace xsup::worker::proxy::shadowsocks
