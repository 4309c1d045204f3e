#pragma once
// XTLS Vision (spec/vision.md) as pure code: the padding frames, the receiver's unpadding
// state machine, and the inner-TLS filter that both directions of one side share. No
// socket here (STYLE.md §2): vision_stream.h wraps it around a VLESS body.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace xsup::worker::proxy::vless::vision {

using Uuid = std::array<std::uint8_t, 16>;

// spec/vision.md §2.
enum class Command : std::uint8_t { kContinue = 0x00, kEnd = 0x01, kDirect = 0x02 };
inline constexpr std::size_t kFrameHeader = 5;                       // command, lengths
inline constexpr std::size_t kFirstFrameHeader = 16 + kFrameHeader;  // UUID in front
// A frame and the UUID+header fit in one of Xray's 8192-byte buffers (spec/vision.md §2).
inline constexpr std::size_t kBufferSize = 8192;
inline constexpr std::size_t kMaxContent = kBufferSize - kFirstFrameHeader;  // 8171
// spec/vision.md §3.1: the default testseed.
inline constexpr std::array<std::uint32_t, 4> kDefaultSeed{900, 500, 900, 256};
// spec/vision.md §4: buffers inspected before detection gives up.
inline constexpr int kPacketsToFilter = 8;
// The largest frame a writer produces: UUID, header, content and padding.
inline constexpr std::size_t kMaxFrame = kBufferSize;

// spec/vision.md §4: what one side learnt about the inner traffic; reader and writer of
// the same connection side update it together.
struct TrafficState {
  int packets_to_filter = kPacketsToFilter;
  bool is_tls = false;
  bool is_tls12_or_above = false;
  bool enable_xtls = false;
  int remaining_server_hello = -1;
  std::uint16_t cipher = 0;
};

// Inspects one buffer of proxied plaintext (spec/vision.md §4), while
// packets_to_filter > 0.
void filter_tls(TrafficState& state, std::span<const std::uint8_t> buffer);

// spec/vision.md §3.3: the bytes are a sequence of whole `17 03 03 len` records.
bool is_complete_record(std::span<const std::uint8_t> bytes);

// spec/vision.md §3.2: where to cut a buffer of at least kMaxContent bytes: after the last
// `17 03 03` found at an offset in [21, 8171], else at 4096.
std::size_t reshape_split(std::span<const std::uint8_t> buffer);

// spec/vision.md §3.1: the padding for `content` bytes; `random` is a uniform draw.
std::size_t padding_length(std::size_t content, bool long_padding,
                           const std::array<std::uint32_t, 4>& seed, std::uint32_t random);

// Writes one frame into `out` (room for kFirstFrameHeader + content + padding): the UUID
// when `uuid` is given, the header, the content and zeros. Returns the bytes written.
std::size_t encode_frame(const Uuid* uuid, Command command, std::span<const std::uint8_t> content,
                         std::size_t padding, std::span<std::uint8_t> out);

// spec/vision.md §5: the receiver. Takes decrypted bytes in any split; bounded state (a few
// counters), no buffering: content is copied out as it arrives.
class Unpadder {
 public:
  explicit Unpadder(const Uuid& uuid) : uuid_(uuid) {}

  // Removes the framing from `in`, writing the content to `out`, which has room for
  // in.size() + 16 bytes and, when it overlaps `in`, starts at least 16 bytes before it
  // (a UUID prefix held from an earlier call may turn out to be data). Returns the bytes
  // written. Once padding is over the bytes pass through.
  std::size_t unpad(std::span<const std::uint8_t> in, std::uint8_t* out);

  // Padding is over in this direction (End or Direct seen, or a peer that never padded).
  bool within_padding() const { return within_padding_; }
  // A Direct frame ended the padding: the next bytes come raw from TCP.
  bool direct() const { return direct_; }

 private:
  enum class State { kUuid, kHeader, kContent, kPadding, kDone };
  void finish_frame();

  Uuid uuid_;
  State state_ = State::kUuid;
  std::size_t uuid_seen_ = 0;
  std::array<std::uint8_t, kFrameHeader> header_{};
  std::size_t header_seen_ = 0;
  std::uint8_t command_ = 0;
  std::size_t content_left_ = 0;
  std::size_t padding_left_ = 0;
  bool within_padding_ = true;
  bool direct_ = false;
};

}  // namespace xsup::worker::proxy::vless::vision
