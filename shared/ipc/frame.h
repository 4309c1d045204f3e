#pragma once
// The worker channel's wire format (DESIGN.md §3), as a pure codec: no socket in sight.
//
//   frame = length:u32 big-endian (1..kMaxFrame) || length bytes of UTF-8 JSON text
//
// Every frame holds one JSON object, the message, with an envelope of two fields:
//   {"v": 1, "type": "<name>", ...}
// The receiver checks the envelope against the types it accepts in its current state, as
// OpenSSH's monitor checks each request against a permission table: anything else is a
// protocol error and the end of that peer.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/error.h"

namespace xsup::ipc {

inline constexpr std::size_t kFrameHeaderSize = 4;
// A bootstrap carries the whole config plus certificates and geo data; 64 MiB bounds what
// one peer can make the other buffer.
inline constexpr std::size_t kMaxFrame = std::size_t{64} << 20;
// Nesting bound checked before parsing, so a hostile peer cannot make a message whose
// depth costs the receiver stack in later recursive walks (dump, comparisons).
inline constexpr int kMaxJsonDepth = 64;
inline constexpr int kProtocolVersion = 1;

// The header and the compact JSON text of `body`. Strings that are not valid UTF-8 are
// replaced (U+FFFD), not thrown on. A payload over kMaxFrame gives a frame that decoders
// reject; Channel::send refuses such a body with Errc::kTooLarge instead of sending it.
std::string encode_frame(const nlohmann::json& body);

// A new message with its envelope filled in.
nlohmann::json make_message(std::string_view type);

// Checks "v" == kProtocolVersion and that "type" is a string listed in `allowed_types`.
// Errors: kUnsupported for another version, kProtocol for a missing envelope or a type the
// receiver does not accept now.
base::Status check_envelope(const nlohmann::json& message,
                            std::span<const std::string_view> allowed_types);

// Splits a byte stream into messages. feed() appends bytes; next() returns the next
// complete message, nullopt while the next frame is incomplete, or an error for a zero
// length (kProtocol), a length over kMaxFrame (kTooLarge), text that is not JSON, JSON
// nested deeper than kMaxJsonDepth, or JSON that is not an object (kProtocol). An error is
// final: the stream has lost its framing, so every later next() returns it again.
class FrameDecoder {
 public:
  void feed(std::span<const std::uint8_t> bytes);
  void feed(std::string_view bytes);

  base::Expected<std::optional<nlohmann::json>> next();

  // Stream offset just past the last frame next() returned. A caller that knows the stream
  // offset of other data (Channel: the bytes fds arrived with) can match it to frames.
  std::uint64_t consumed() const { return consumed_; }
  // Bytes fed but not yet returned as part of a message.
  std::size_t buffered() const { return buffer_.size() - pos_; }

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t pos_ = 0;  // start of the first unreturned frame in buffer_
  std::uint64_t consumed_ = 0;
  std::optional<base::Error> failed_;
};

}  // namespace xsup::ipc
