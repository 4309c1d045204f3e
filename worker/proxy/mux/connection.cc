#include "worker/proxy/mux/connection.h"

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>

namespace xsup::worker::proxy::mux {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

Signal::Signal(const asio::any_io_executor& executor) : timer_(executor) {
  // Never expires: only cancel() ends a wait, and cancel() keeps the expiry, so a later
  // wait does not disturb the waiters already parked.
  timer_.expires_at(asio::steady_timer::time_point::max());
}

awaitable<void> Signal::wait() { co_await timer_.async_wait(kTuple); }

Connection::Connection(core::Stream& stream) : stream_(stream), writable_(stream.get_executor()) {}

awaitable<std::error_code> Connection::write_frame(const Frame& frame,
                                                   std::span<const std::uint8_t> data) {
  while (writing_ && !closed_) co_await writable_.wait();
  if (closed_) co_return make_error_code(asio::error::broken_pipe);
  const std::size_t n = encode_frame(frame, header_);
  if (n == 0) co_return make_error_code(asio::error::invalid_argument);
  writing_ = true;
  const std::size_t data_size = frame.has_data() ? frame.data_size : 0;
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(header_.data(), n),
                                                  asio::buffer(data.data(), data_size)};
  std::error_code ec = co_await stream_.write(buffers);
  writing_ = false;
  writable_.notify();
  if (ec) close();
  co_return ec;
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  stream_.close();
  writable_.notify();
}

SubStream::SubStream(Connection& connection, std::uint16_t id)
    : connection_(connection),
      id_(id),
      readable_(connection.get_executor()),
      room_(connection.get_executor()) {}

SubStream::~SubStream() = default;

awaitable<bool> SubStream::deliver(std::span<const std::uint8_t> data) {
  while (!data.empty()) {
    if (closed_) co_return false;
    if (!buffer_) buffer_ = core::BufferPool::local().acquire();
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    const std::size_t room = buffer_.capacity() - end_;
    if (room == 0) {
      co_await room_.wait();
      continue;
    }
    const std::size_t n = std::min(room, data.size());
    std::memcpy(buffer_.data() + end_, data.data(), n);
    end_ += n;
    data = data.subspan(n);
    readable_.notify();
  }
  co_return true;
}

void SubStream::end_from_peer() {
  peer_ended_ = true;
  readable_.notify();
}

awaitable<void> SubStream::send_end(bool error) {
  if (end_sent_ || connection_.closed()) co_return;
  end_sent_ = true;
  Frame frame;
  frame.session_id = id_;
  frame.status = Status::kEnd;
  frame.option = error ? kOptionError : 0;
  co_await connection_.write_frame(frame, {});
}

awaitable<std::error_code> SubStream::wait_readable() {
  while (end_ == begin_ && !peer_ended_ && !closed_) co_await readable_.wait();
  if (closed_) co_return make_error_code(asio::error::operation_aborted);
  co_return std::error_code{};
}

awaitable<core::IoResult> SubStream::read_some(asio::mutable_buffer buffer) {
  while (end_ == begin_) {
    if (closed_) co_return core::IoResult{make_error_code(asio::error::operation_aborted), 0};
    if (peer_ended_) co_return core::IoResult{make_error_code(asio::error::eof), 0};
    co_await readable_.wait();
  }
  const std::size_t n = std::min(buffer.size(), end_ - begin_);
  std::memcpy(buffer.data(), buffer_.data() + begin_, n);
  begin_ += n;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    buffer_ = core::Buffer();  // back to the pool while idle
  }
  room_.notify();
  co_return core::IoResult{{}, n};
}

awaitable<std::error_code> SubStream::write(std::span<const asio::const_buffer> buffers) {
  for (const asio::const_buffer& b : buffers) {
    std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(b.data()), b.size());
    while (!bytes.empty()) {
      if (closed_ || end_sent_) co_return make_error_code(asio::error::broken_pipe);
      const std::size_t n = std::min(bytes.size(), kMaxFrameData);
      Frame frame;
      frame.session_id = id_;
      frame.status = Status::kKeep;
      frame.option = kOptionData;
      frame.data_size = n;
      if (std::error_code ec = co_await connection_.write_frame(frame, bytes.first(n)); ec) {
        co_return ec;
      }
      bytes = bytes.subspan(n);
    }
  }
  co_return std::error_code{};
}

awaitable<std::error_code> SubStream::shutdown_send() {
  // spec/mux.md §1: half-close is not modelled; End ends the whole sub-stream.
  co_await send_end(false);
  co_return std::error_code{};
}

void SubStream::close() {
  closed_ = true;
  readable_.notify();
  room_.notify();
}

FrameReader::FrameReader(core::Stream& stream, std::span<const std::uint8_t> rest)
    : stream_(stream), in_(core::BufferPool::local().acquire()) {
  end_ = std::min(rest.size(), in_.capacity());
  if (end_ > 0) std::memcpy(in_.data(), rest.data(), end_);  // an empty span has no data()
}

awaitable<bool> FrameReader::fill(std::size_t want) {
  if (end_ - begin_ >= want) co_return true;
  if (want > in_.capacity()) co_return false;
  if (in_.capacity() - begin_ < want) {
    std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  while (end_ - begin_ < want) {
    auto [ec, n] =
        co_await stream_.read_some(asio::buffer(in_.data() + end_, in_.capacity() - end_));
    if (ec) {
      if (ec != asio::error::eof) ended_by_ = ec.message();
      co_return false;
    }
    end_ += n;
  }
  co_return true;
}

awaitable<std::optional<Frame>> FrameReader::next() {
  for (;;) {
    auto parsed = parse_frame({in_.data() + begin_, end_ - begin_});
    if (parsed) {
      begin_ += parsed->consumed;
      co_return std::move(parsed->value);
    }
    if (!parsed.error().is(base::Errc::kNeedMore)) {
      ended_by_ = parsed.error().reason;
      bad_frame_ = true;
      co_return std::nullopt;
    }
    if (!co_await fill(end_ - begin_ + 1)) co_return std::nullopt;
  }
}

awaitable<bool> FrameReader::skip(std::size_t size) { co_return co_await pass_data(nullptr, size); }

awaitable<bool> FrameReader::pass_data(SubStream* to, std::size_t size) {
  // spec/mux.md §1: a TCP chunk of length 0 is an EOF for that read; nothing to move.
  while (size > 0) {
    if (begin_ == end_) {
      begin_ = end_ = 0;
      if (!co_await fill(1)) co_return false;
    }
    const std::size_t n = std::min(size, end_ - begin_);
    if (to != nullptr && !co_await to->deliver({in_.data() + begin_, n})) to = nullptr;
    begin_ += n;
    size -= n;
  }
  co_return true;
}

awaitable<std::optional<std::span<const std::uint8_t>>> FrameReader::take(std::size_t size) {
  if (!co_await fill(size)) co_return std::nullopt;
  std::span<const std::uint8_t> out(in_.data() + begin_, size);
  begin_ += size;
  co_return out;
}

}  // namespace xsup::worker::proxy::mux
