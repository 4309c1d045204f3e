#include "worker/proxy/vless/vision_codec.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::proxy::vless::vision {
namespace {

// spec/vision.md §4: supported_versions holding only TLS 1.3, as a ServerHello carries it.
constexpr std::array<std::uint8_t, 6> kTls13Extension{0x00, 0x2b, 0x00, 0x02, 0x03, 0x04};
// TLS_AES_128_CCM_8_SHA256: TLS 1.3, yet Xray keeps it inside the outer TLS.
constexpr std::uint16_t kCcm8 = 0x1305;
// Record header of TLS 1.2+ application data (spec/vision.md §3.3).
constexpr std::array<std::uint8_t, 3> kAppData{0x17, 0x03, 0x03};
// Offset of the session id length in a ServerHello record: 5 record header, 4 handshake
// header, 2 version, 32 random (spec/vision.md §4).
constexpr std::size_t kSessionIdOffset = 43;
constexpr std::size_t kMinServerHello = 79;

bool starts_with_app_data(std::span<const std::uint8_t> b) {
  return b.size() >= 3 && std::equal(kAppData.begin(), kAppData.end(), b.begin());
}

}  // namespace

void filter_tls(TrafficState& state, std::span<const std::uint8_t> b) {
  if (state.packets_to_filter <= 0) return;
  --state.packets_to_filter;
  if (b.size() >= 6) {
    if (b[0] == 0x16 && b[1] == 0x03 && b[2] == 0x03 && b[5] == 0x02) {
      state.remaining_server_hello = ((int{b[3]} << 8) | int{b[4]}) + 5;
      state.is_tls12_or_above = true;
      state.is_tls = true;
      if (b.size() >= kMinServerHello && state.remaining_server_hello >= int(kMinServerHello)) {
        const std::size_t sid = b[kSessionIdOffset];
        if (kSessionIdOffset + 2 + sid < b.size()) {
          state.cipher = static_cast<std::uint16_t>((b[44 + sid] << 8) | b[45 + sid]);
        }
      }
    } else if (b[0] == 0x16 && b[1] == 0x03 && b[5] == 0x01) {
      state.is_tls = true;
    }
  }
  if (state.remaining_server_hello > 0) {
    const std::size_t window = std::min<std::size_t>(b.size(), state.remaining_server_hello);
    auto scope = b.first(window);
    const bool tls13 = std::search(scope.begin(), scope.end(), kTls13Extension.begin(),
                                   kTls13Extension.end()) != scope.end();
    state.remaining_server_hello -= static_cast<int>(b.size());
    if (tls13) {
      state.enable_xtls = state.cipher != kCcm8;
      state.packets_to_filter = 0;
    } else if (state.remaining_server_hello <= 0) {
      state.packets_to_filter = 0;  // TLS 1.2: no direct copy
    }
  }
}

bool is_complete_record(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return false;
  while (!bytes.empty()) {
    if (bytes.size() < 5 || !starts_with_app_data(bytes)) return false;
    const std::size_t length = (std::size_t{bytes[3]} << 8) | bytes[4];
    if (bytes.size() < 5 + length) return false;
    bytes = bytes.subspan(5 + length);
  }
  return true;
}

std::size_t reshape_split(std::span<const std::uint8_t> buffer) {
  const std::size_t limit = std::min(buffer.size(), kMaxContent + kAppData.size());
  auto scope = buffer.first(limit);
  auto it = std::find_end(scope.begin(), scope.end(), kAppData.begin(), kAppData.end());
  if (it != scope.end()) {
    const auto at = static_cast<std::size_t>(it - scope.begin());
    if (at >= kFirstFrameHeader && at <= kMaxContent) return at;
  }
  return 4096;
}

std::size_t padding_length(std::size_t content, bool long_padding,
                           const std::array<std::uint32_t, 4>& seed, std::uint32_t random) {
  std::size_t padding = 0;
  if (long_padding && content < seed[0]) {
    padding = (seed[1] == 0 ? 0 : random % seed[1]) + seed[2] - content;
  } else {
    padding = seed[3] == 0 ? 0 : random % seed[3];
  }
  if (content >= kMaxContent) return 0;
  return std::min(padding, kMaxContent - content);
}

std::size_t encode_frame(const Uuid* uuid, Command command, std::span<const std::uint8_t> content,
                         std::size_t padding, std::span<std::uint8_t> out) {
  std::size_t at = 0;
  if (uuid != nullptr) {
    std::memcpy(out.data(), uuid->data(), uuid->size());
    at = uuid->size();
  }
  out[at++] = static_cast<std::uint8_t>(command);
  out[at++] = static_cast<std::uint8_t>(content.size() >> 8);
  out[at++] = static_cast<std::uint8_t>(content.size());
  out[at++] = static_cast<std::uint8_t>(padding >> 8);
  out[at++] = static_cast<std::uint8_t>(padding);
  if (!content.empty()) std::memcpy(out.data() + at, content.data(), content.size());
  at += content.size();
  std::memset(out.data() + at, 0, padding);
  return at + padding;
}

void Unpadder::finish_frame() {
  if (command_ == static_cast<std::uint8_t>(Command::kContinue)) {
    state_ = State::kHeader;
    header_seen_ = 0;
    return;
  }
  // spec/vision.md §5: End and Direct close the padding; an unknown command does too,
  // like Xray, which only tests for 0 and 2.
  state_ = State::kDone;
  within_padding_ = false;
  direct_ = command_ == static_cast<std::uint8_t>(Command::kDirect);
}

std::size_t Unpadder::unpad(std::span<const std::uint8_t> in, std::uint8_t* out) {
  std::size_t written = 0;
  std::size_t i = 0;
  const auto emit = [&](const std::uint8_t* from, std::size_t n) {
    std::memmove(out + written, from, n);
    written += n;
  };
  while (i < in.size()) {
    switch (state_) {
      case State::kUuid: {
        // The UUID opens the first frame; without it the peer does not pad at all.
        while (i < in.size() && uuid_seen_ < uuid_.size() && in[i] == uuid_[uuid_seen_]) {
          ++i;
          ++uuid_seen_;
        }
        if (uuid_seen_ == uuid_.size()) {
          state_ = State::kHeader;
        } else if (i < in.size()) {
          // Not a UUID: what looked like its start was data.
          emit(uuid_.data(), uuid_seen_);
          state_ = State::kDone;
          within_padding_ = false;
        }
        break;
      }
      case State::kHeader: {
        const std::size_t n = std::min(in.size() - i, kFrameHeader - header_seen_);
        std::memcpy(header_.data() + header_seen_, in.data() + i, n);
        header_seen_ += n;
        i += n;
        if (header_seen_ == kFrameHeader) {
          command_ = header_[0];
          content_left_ = (std::size_t{header_[1]} << 8) | header_[2];
          padding_left_ = (std::size_t{header_[3]} << 8) | header_[4];
          state_ = State::kContent;
          if (content_left_ == 0) state_ = State::kPadding;
          if (content_left_ == 0 && padding_left_ == 0) finish_frame();
        }
        break;
      }
      case State::kContent: {
        const std::size_t n = std::min(in.size() - i, content_left_);
        emit(in.data() + i, n);
        i += n;
        content_left_ -= n;
        if (content_left_ == 0) {
          state_ = State::kPadding;
          if (padding_left_ == 0) finish_frame();
        }
        break;
      }
      case State::kPadding: {
        const std::size_t n = std::min(in.size() - i, padding_left_);
        i += n;
        padding_left_ -= n;
        if (padding_left_ == 0) finish_frame();
        break;
      }
      case State::kDone:
        emit(in.data() + i, in.size() - i);
        i = in.size();
        break;
    }
  }
  return written;
}

}  // namespace xsup::worker::proxy::vless::vision
