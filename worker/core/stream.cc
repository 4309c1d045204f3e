#include "worker/core/stream.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::core {

awaitable<std::error_code> Stream::wait_writable() { co_return std::error_code{}; }

awaitable<std::error_code> Stream::write_all(asio::const_buffer buffer) {
  const asio::const_buffer one[1] = {buffer};
  co_return co_await write(one);
}

PrefixedStream::PrefixedStream(StreamPtr inner, std::span<const std::uint8_t> prefix)
    : inner_(std::move(inner)) {
  if (!prefix.empty()) {
    storage_ = std::make_unique<std::uint8_t[]>(prefix.size());
    std::memcpy(storage_.get(), prefix.data(), prefix.size());
    prefix_ = {storage_.get(), prefix.size()};
  }
}

awaitable<std::error_code> PrefixedStream::wait_readable() {
  if (offset_ < prefix_.size()) co_return std::error_code{};
  co_return co_await inner_->wait_readable();
}

awaitable<IoResult> PrefixedStream::read_some(asio::mutable_buffer buffer) {
  if (offset_ < prefix_.size()) {
    std::size_t n = std::min(buffer.size(), prefix_.size() - offset_);
    std::memcpy(buffer.data(), prefix_.data() + offset_, n);
    offset_ += n;
    if (offset_ == prefix_.size()) storage_.reset();
    co_return IoResult{{}, n};
  }
  co_return co_await inner_->read_some(buffer);
}

}  // namespace xsup::worker::core
