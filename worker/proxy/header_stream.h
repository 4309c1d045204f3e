#pragma once
// The client side of a VLESS or Trojan connection as a plain Stream: the request header is
// written in front of the first bytes written (or alone, as soon as someone waits for the
// downlink: a server-speaks-first target must get it), and a response header, when the
// protocol has one (VLESS, spec/vless.md §4), is read and dropped before the first
// downlink bytes. Once both are done the stream is plain TCP again and offers splice.

#include <array>
#include <asio/steady_timer.hpp>

#include "shared/base/error.h"
#include "worker/core/stream.h"

namespace xsup::worker::proxy {

using asio::awaitable;

class HeaderStream final : public core::Stream {
 public:
  // The size of the response header at the start of `in`, kNeedMore, or another error.
  using ResponseParser = base::Expected<std::size_t> (*)(std::span<const std::uint8_t> in);
  // The longest request header and the longest response header this stream holds.
  static constexpr std::size_t kMaxRequest = 640;
  static constexpr std::size_t kMaxResponse = 2 + 255;

  // `parse_response` null: the protocol has no response header (Trojan).
  HeaderStream(core::StreamPtr inner, std::span<const std::uint8_t> request_header,
               ResponseParser parse_response);

  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override;
  awaitable<std::error_code> shutdown_send() override;
  void close() override { inner_->close(); }
  int splice_fd() const override;
  awaitable<std::error_code> wait_writable() override { return inner_->wait_writable(); }

 private:
  enum class HeaderState { kPending, kSending, kSent };
  // Sends the request header alone if nobody has sent it; waits while someone else is.
  awaitable<std::error_code> flush_header();
  awaitable<void> wait_header_sent();

  core::StreamPtr inner_;
  ResponseParser parse_response_;
  std::array<std::uint8_t, kMaxRequest> request_{};
  std::size_t request_size_ = 0;
  HeaderState state_ = HeaderState::kPending;
  std::error_code header_error_;
  asio::steady_timer header_sent_;  // cancelled when the header is out
  // The response header and any payload read with it.
  std::array<std::uint8_t, kMaxResponse> response_{};
  std::size_t response_size_ = 0;
  std::size_t response_pos_ = 0;
  bool response_done_ = false;
};

}  // namespace xsup::worker::proxy
