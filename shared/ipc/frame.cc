#include "shared/ipc/frame.h"

#include <algorithm>

namespace xsup::ipc {
namespace {

// True when brackets outside strings never nest deeper than kMaxJsonDepth. Malformed text
// is left for the parser to reject.
bool depth_within_limit(const std::uint8_t* data, std::size_t size) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < size; ++i) {
    const std::uint8_t c = data[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace

std::string encode_frame(const nlohmann::json& body) {
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const auto length = static_cast<std::uint32_t>(text.size());
  std::string frame;
  frame.reserve(kFrameHeaderSize + text.size());
  frame.push_back(static_cast<char>(length >> 24));
  frame.push_back(static_cast<char>(length >> 16));
  frame.push_back(static_cast<char>(length >> 8));
  frame.push_back(static_cast<char>(length));
  frame += text;
  return frame;
}

nlohmann::json make_message(std::string_view type) {
  return nlohmann::json{{"v", kProtocolVersion}, {"type", type}};
}

base::Status check_envelope(const nlohmann::json& message,
                            std::span<const std::string_view> allowed_types) {
  if (!message.is_object()) return {base::Errc::kProtocol, "message is not an object"};
  const auto version = message.find("v");
  if (version == message.end() || !version->is_number_integer()) {
    return {base::Errc::kProtocol, "message without a version"};
  }
  if (version->get<std::int64_t>() != kProtocolVersion) {
    return {base::Errc::kUnsupported, "unsupported message version"};
  }
  const auto type = message.find("type");
  if (type == message.end() || !type->is_string()) {
    return {base::Errc::kProtocol, "message without a type"};
  }
  const auto& name = type->get_ref<const std::string&>();
  if (std::find(allowed_types.begin(), allowed_types.end(), name) == allowed_types.end()) {
    return {base::Errc::kProtocol, "message type not allowed here"};
  }
  return {};
}

void FrameDecoder::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return;
  // Drop returned frames before growing, so the buffer stays near one frame in size.
  if (pos_ > 0 && (pos_ == buffer_.size() || pos_ >= buffer_.size() / 2)) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void FrameDecoder::feed(std::string_view bytes) {
  feed(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

base::Expected<std::optional<nlohmann::json>> FrameDecoder::next() {
  if (failed_) return *failed_;
  if (buffered() < kFrameHeaderSize) return std::optional<nlohmann::json>{};
  const std::uint8_t* header = buffer_.data() + pos_;
  const std::size_t length = (std::size_t{header[0]} << 24) | (std::size_t{header[1]} << 16) |
                             (std::size_t{header[2]} << 8) | std::size_t{header[3]};
  if (length == 0) {
    failed_ = base::Error(base::Errc::kProtocol, "empty frame");
    return *failed_;
  }
  if (length > kMaxFrame) {
    failed_ = base::Error(base::Errc::kTooLarge, "frame over the size limit");
    return *failed_;
  }
  if (buffered() - kFrameHeaderSize < length) return std::optional<nlohmann::json>{};

  const std::uint8_t* text = header + kFrameHeaderSize;
  if (!depth_within_limit(text, length)) {
    failed_ = base::Error(base::Errc::kProtocol, "message nested too deeply");
    return *failed_;
  }
  auto message = nlohmann::json::parse(text, text + length, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    failed_ = base::Error(base::Errc::kProtocol, "frame is not JSON");
    return *failed_;
  }
  if (!message.is_object()) {
    failed_ = base::Error(base::Errc::kProtocol, "message is not an object");
    return *failed_;
  }
  pos_ += kFrameHeaderSize + length;
  consumed_ += kFrameHeaderSize + length;
  return std::optional<nlohmann::json>(std::move(message));
}

}  // namespace xsup::ipc
