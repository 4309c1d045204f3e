#include "worker/proxy/vmess/chunk_stream.h"

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>

namespace xsup::worker::proxy::vmess {
namespace {

using base::Errc;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// spec/vmess.md §3: a client waits this long for the first payload to go with the header.
constexpr std::chrono::milliseconds kFirstPayloadWait{100};
// Room for the largest legal chunk: its length field and a 65535-byte body.
constexpr std::size_t kBigReceive = kLengthFieldSize + kMaxChunkBody;

bool is_raw(const RequestHeader& h) {
  return body_cipher(h.security) == BodyCipher::kNone && (h.options & kOptChunkStream) == 0;
}

}  // namespace

ChunkStream::ChunkStream(core::StreamPtr inner, ServerSide server)
    : inner_(std::move(inner)),
      client_(false),
      raw_(is_raw(server.request)),
      reader_(request_codec(server.request)),
      writer_(response_codec(server.request)),
      header_timer_(inner_->get_executor()),
      received_(std::move(server.received)),
      begin_(server.begin),
      end_(server.end),
      writer_idle_(inner_->get_executor()) {
  std::span<std::uint8_t, kResponseHeaderSize> out(header_.data(), kResponseHeaderSize);
  seal_response_header(response_key(server.request.body_key), response_iv(server.request.body_iv),
                       server.request.response_auth, out);
  header_size_ = kResponseHeaderSize;
  release_if_empty();
}

ChunkStream::ChunkStream(core::StreamPtr inner, ClientSide client)
    : inner_(std::move(inner)),
      client_(true),
      raw_(is_raw(client.request)),
      reader_(response_codec(client.request)),
      writer_(request_codec(client.request)),
      header_timer_(inner_->get_executor()),
      response_pending_(true),
      resp_key_(response_key(client.request.body_key)),
      resp_iv_(response_iv(client.request.body_iv)),
      response_auth_(client.request.response_auth),
      writer_idle_(inner_->get_executor()) {
  header_size_ = std::min(client.sealed_request.size(), header_.size());
  std::memcpy(header_.data(), client.sealed_request.data(), header_size_);
}

ChunkStream::~ChunkStream() = default;

std::size_t ChunkStream::rx_capacity() const {
  if (big_) return kBigReceive;
  return received_ ? received_.capacity() : 0;
}

void ChunkStream::release_if_empty() {
  if (begin_ == end_ && plain_begin_ == plain_end_ && received_) {
    received_ = core::Buffer();
    begin_ = end_ = 0;
  }
}

awaitable<std::error_code> ChunkStream::ensure(std::size_t n) {
  if (end_ - begin_ >= n) co_return std::error_code{};
  if (!received_ && !big_) {
    received_ = core::BufferPool::local().acquire();
    begin_ = end_ = 0;
  }
  if (n > rx_capacity()) {
    auto big = std::make_unique<std::uint8_t[]>(kBigReceive);
    std::memcpy(big.get(), rx() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    big_ = std::move(big);
    received_ = core::Buffer();
  }
  if (begin_ + n > rx_capacity()) {
    std::memmove(rx(), rx() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  while (end_ - begin_ < n) {
    auto r = co_await inner_->read_some(asio::buffer(rx() + end_, rx_capacity() - end_));
    if (r.ec) {
      // An end of stream inside a chunk is an error; at a chunk boundary it is the end.
      if (r.ec == asio::error::eof && end_ != begin_)
        co_return base::make_error_code(Errc::kClosed);
      co_return r.ec;
    }
    end_ += r.bytes;
  }
  co_return std::error_code{};
}

awaitable<std::error_code> ChunkStream::read_response_header() {
  if (auto ec = co_await ensure(kSealedLengthSize); ec) {
    co_return ec == asio::error::eof ? base::make_error_code(Errc::kClosed) : ec;
  }
  auto size = open_response_length(resp_key_, resp_iv_, {rx() + begin_, kSealedLengthSize});
  if (!size) co_return size.error().code;
  begin_ += kSealedLengthSize;
  if (auto ec = co_await ensure(*size + Aead::kTagSize); ec) {
    co_return ec == asio::error::eof ? base::make_error_code(Errc::kClosed) : ec;
  }
  auto v = open_response_header(resp_key_, resp_iv_, {rx() + begin_, *size + Aead::kTagSize});
  if (!v) co_return v.error().code;
  if (*v != response_auth_) co_return base::make_error_code(Errc::kAuthFailed);
  begin_ += *size + Aead::kTagSize;
  response_pending_ = false;
  co_return std::error_code{};
}

awaitable<std::error_code> ChunkStream::send_request_soon() {
  if (!client_ || header_sent_) co_return std::error_code{};
  header_timer_.expires_after(kFirstPayloadWait);
  co_await header_timer_.async_wait(kTuple);  // a write in the meantime cancels it
  if (header_sent_) co_return std::error_code{};
  co_return co_await send({}, false);
}

awaitable<std::error_code> ChunkStream::wait_readable() {
  if (plain_begin_ != plain_end_ || eof_ || end_ != begin_) co_return std::error_code{};
  if (auto ec = co_await send_request_soon(); ec) co_return ec;
  co_return co_await inner_->wait_readable();
}

awaitable<core::IoResult> ChunkStream::read_some(asio::mutable_buffer buffer) {
  co_return co_await read_chunks(buffer, false);
}

awaitable<core::IoResult> ChunkStream::read_packet(asio::mutable_buffer buffer) {
  co_return co_await read_chunks(buffer, true);
}

awaitable<core::IoResult> ChunkStream::read_chunks(asio::mutable_buffer buffer, bool one) {
  auto* out = static_cast<std::uint8_t*>(buffer.data());
  const std::size_t cap = buffer.size();
  if (cap == 0) co_return core::IoResult{};
  if (plain_begin_ != plain_end_) {
    const std::size_t n = std::min(cap, plain_end_ - plain_begin_);
    std::memcpy(out, rx() + plain_begin_, n);
    plain_begin_ += n;
    if (plain_begin_ == plain_end_) plain_begin_ = plain_end_ = 0;
    release_if_empty();
    co_return core::IoResult{{}, n};
  }
  if (eof_) co_return core::IoResult{asio::error::eof, 0};
  if (auto ec = co_await send_request_soon(); ec) co_return core::IoResult{ec, 0};
  if (response_pending_) {
    if (auto ec = co_await read_response_header(); ec) co_return core::IoResult{ec, 0};
  }
  if (raw_) {
    if (end_ != begin_) {
      const std::size_t n = std::min(cap, end_ - begin_);
      std::memcpy(out, rx() + begin_, n);
      begin_ += n;
      release_if_empty();
      co_return core::IoResult{{}, n};
    }
    co_return co_await inner_->read_some(buffer);
  }

  std::size_t done = 0;
  for (;;) {
    if (!next_length_) {
      if (done > 0 && end_ - begin_ < kLengthFieldSize) break;
      if (auto ec = co_await ensure(kLengthFieldSize); ec) co_return core::IoResult{ec, 0};
      auto length = reader_.open_length(rx() + begin_);
      if (!length) co_return core::IoResult{length.error().code, 0};
      begin_ += kLengthFieldSize;
      next_length_ = *length;
    }
    const ChunkCodec::Length length = *next_length_;
    if (length.eof()) {
      if (done > 0) break;  // the data first, the end on the next call
      eof_ = true;
      next_length_.reset();
      begin_ = end_;  // whatever follows the end chunk is not ours to read
      release_if_empty();
      co_return core::IoResult{asio::error::eof, 0};
    }
    if (done > 0 && end_ - begin_ < length.body) break;
    if (auto ec = co_await ensure(length.body); ec) co_return core::IoResult{ec, 0};
    const std::size_t size = length.body - length.padding - length.tag;
    std::uint8_t* body = rx() + begin_;
    if (cap - done >= size) {
      auto opened = reader_.open(length, {body, length.body}, out + done);
      if (!opened) co_return core::IoResult{opened.error().code, 0};
      done += *opened;
      begin_ += length.body;
      next_length_.reset();
      if (one) break;
      continue;
    }
    if (done > 0) break;
    // Larger than the caller's buffer: opened in place and handed out piece by piece
    // (a datagram that does not fit is dropped).
    auto opened = reader_.open(length, {body, length.body}, body);
    if (!opened) co_return core::IoResult{opened.error().code, 0};
    next_length_.reset();
    if (one) {
      begin_ += length.body;
      continue;
    }
    plain_begin_ = begin_;
    plain_end_ = begin_ + *opened;
    begin_ += length.body;
    const std::size_t n = cap;
    std::memcpy(out, rx() + plain_begin_, n);
    plain_begin_ += n;
    co_return core::IoResult{{}, n};
  }
  release_if_empty();
  co_return core::IoResult{{}, done};
}

awaitable<void> ChunkStream::lock_writer() {
  while (writing_) {
    writer_idle_.expires_at(std::chrono::steady_clock::time_point::max());
    co_await writer_idle_.async_wait(kTuple);
  }
  writing_ = true;
}

void ChunkStream::unlock_writer() {
  writing_ = false;
  writer_idle_.cancel();
}

awaitable<std::error_code> ChunkStream::send(std::span<const asio::const_buffer> buffers,
                                             bool end) {
  co_await lock_writer();
  core::Buffer tx = core::BufferPool::local().acquire();
  std::uint8_t* const base = tx.data();
  const std::size_t cap = tx.capacity();
  std::size_t used = 0;
  std::error_code ec;
  if (!header_sent_) {
    header_sent_ = true;
    header_timer_.cancel();
    std::memcpy(base, header_.data(), header_size_);
    used = header_size_;
  }
  for (const asio::const_buffer& piece : buffers) {
    const auto* data = static_cast<const std::uint8_t*>(piece.data());
    std::size_t left = piece.size();
    while (left > 0 && !ec) {
      if (raw_) {
        const std::size_t n = std::min(left, cap - used);
        std::memcpy(base + used, data, n);
        used += n;
        data += n;
        left -= n;
      } else {
        const std::size_t n = std::min(left, writer_.max_payload());
        if (cap - used < writer_.sealed_bound(n)) {
          ec = co_await inner_->write_all(asio::const_buffer(base, used));
          used = 0;
          if (ec) break;
        }
        used += writer_.seal({data, n}, base + used);
        data += n;
        left -= n;
      }
      if (used == cap) {
        ec = co_await inner_->write_all(asio::const_buffer(base, used));
        used = 0;
      }
    }
    if (ec) break;
  }
  if (!ec && end && !raw_) {
    if (cap - used < writer_.sealed_bound(0)) {
      ec = co_await inner_->write_all(asio::const_buffer(base, used));
      used = 0;
    }
    if (!ec) used += writer_.seal({}, base + used);
  }
  if (!ec && used > 0) ec = co_await inner_->write_all(asio::const_buffer(base, used));
  unlock_writer();
  co_return ec;
}

awaitable<std::error_code> ChunkStream::write(std::span<const asio::const_buffer> buffers) {
  co_return co_await send(buffers, false);
}

awaitable<std::error_code> ChunkStream::write_packet(std::span<const std::uint8_t> payload) {
  if (payload.empty()) co_return std::error_code{};  // an empty chunk would end the stream
  if (payload.size() > writer_.max_payload()) co_return base::make_error_code(Errc::kTooLarge);
  const asio::const_buffer one[1] = {asio::const_buffer(payload.data(), payload.size())};
  co_return co_await send(one, false);
}

awaitable<std::error_code> ChunkStream::shutdown_send() {
  if (raw_) {
    if (auto ec = co_await send({}, false); ec) co_return ec;
    co_return co_await inner_->shutdown_send();
  }
  co_return co_await send({}, true);
}

void ChunkStream::close() {
  header_timer_.cancel();
  writer_idle_.cancel();
  inner_->close();
}

}  // namespace xsup::worker::proxy::vmess
