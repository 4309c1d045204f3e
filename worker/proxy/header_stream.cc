#include "worker/proxy/header_stream.h"

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>

namespace xsup::worker::proxy {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Scatter/gather writes carry at most this many buffers besides the header.
constexpr std::size_t kMaxGather = 15;
}  // namespace

HeaderStream::HeaderStream(core::StreamPtr inner, std::span<const std::uint8_t> request_header,
                           ResponseParser parse_response)
    : inner_(std::move(inner)),
      parse_response_(parse_response),
      request_size_(std::min(request_header.size(), request_.size())),
      header_sent_(inner_->get_executor(), asio::steady_timer::time_point::max()) {
  std::memcpy(request_.data(), request_header.data(), request_size_);
  response_done_ = parse_response_ == nullptr;
}

int HeaderStream::splice_fd() const {
  const bool plain = state_ == HeaderState::kSent && !header_error_ && response_done_ &&
                     response_pos_ == response_size_;
  return plain ? inner_->splice_fd() : -1;
}

awaitable<void> HeaderStream::wait_header_sent() {
  while (state_ == HeaderState::kSending) {
    co_await header_sent_.async_wait(kTuple);
  }
}

awaitable<std::error_code> HeaderStream::flush_header() {
  if (state_ == HeaderState::kSending) co_await wait_header_sent();
  if (state_ == HeaderState::kSent) co_return header_error_;
  state_ = HeaderState::kSending;
  header_error_ = co_await inner_->write_all(asio::buffer(request_.data(), request_size_));
  state_ = HeaderState::kSent;
  header_sent_.cancel();
  co_return header_error_;
}

awaitable<std::error_code> HeaderStream::write(std::span<const asio::const_buffer> buffers) {
  if (state_ == HeaderState::kSending) co_await wait_header_sent();
  if (state_ == HeaderState::kSent) {
    if (header_error_) co_return header_error_;
    co_return co_await inner_->write(buffers);
  }
  if (buffers.size() > kMaxGather) {
    if (std::error_code ec = co_await flush_header(); ec) co_return ec;
    co_return co_await inner_->write(buffers);
  }
  // spec/vless.md §7: the header and the first payload in one write.
  std::array<asio::const_buffer, kMaxGather + 1> all;
  all[0] = asio::buffer(request_.data(), request_size_);
  std::copy(buffers.begin(), buffers.end(), all.begin() + 1);
  state_ = HeaderState::kSending;
  header_error_ = co_await inner_->write(std::span(all.data(), buffers.size() + 1));
  state_ = HeaderState::kSent;
  header_sent_.cancel();
  co_return header_error_;
}

awaitable<std::error_code> HeaderStream::shutdown_send() {
  if (std::error_code ec = co_await flush_header(); ec) co_return ec;
  co_return co_await inner_->shutdown_send();
}

awaitable<std::error_code> HeaderStream::wait_readable() {
  if (std::error_code ec = co_await flush_header(); ec) co_return ec;
  if (response_done_ && response_pos_ < response_size_) co_return std::error_code{};
  co_return co_await inner_->wait_readable();
}

awaitable<core::IoResult> HeaderStream::read_some(asio::mutable_buffer buffer) {
  if (std::error_code ec = co_await flush_header(); ec) co_return core::IoResult{ec, 0};
  while (!response_done_) {
    auto r = co_await inner_->read_some(
        asio::buffer(response_.data() + response_size_, response_.size() - response_size_));
    if (r.ec) co_return r;
    response_size_ += r.bytes;
    auto parsed = parse_response_({response_.data(), response_size_});
    if (parsed) {
      response_done_ = true;
      response_pos_ = *parsed;
      break;
    }
    if (!parsed.error().is(base::Errc::kNeedMore)) {
      co_return core::IoResult{base::make_error_code(base::Errc::kProtocol), 0};
    }
  }
  if (response_pos_ < response_size_) {
    const std::size_t n = std::min(buffer.size(), response_size_ - response_pos_);
    std::memcpy(buffer.data(), response_.data() + response_pos_, n);
    response_pos_ += n;
    co_return core::IoResult{{}, n};
  }
  co_return co_await inner_->read_some(buffer);
}

}  // namespace xsup::worker::proxy
