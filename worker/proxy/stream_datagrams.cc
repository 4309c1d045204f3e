#include "worker/proxy/stream_datagrams.h"

#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>

namespace xsup::worker::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;
using base::Errc;
using base::Error;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// The largest UDP payload (RFC 768 over IPv4, 65535 - 8 - 20).
constexpr std::size_t kMaxDatagram = 65507;

class DatagramRelay {
 public:
  DatagramRelay(core::Stream& client, FrameReader& reader, core::PacketStream& server,
                const DatagramFraming& framing, const net::Destination& fixed_target,
                const core::Policy& policy)
      : client_(client),
        reader_(reader),
        server_(server),
        framing_(framing),
        fixed_target_(fixed_target),
        idle_(policy.conn_idle),
        timer_(client.get_executor()) {}

  awaitable<DatagramRelayResult> run() {
    touch();
    co_await (uplink() || downlink() || watchdog());
    co_return result_;
  }

 private:
  void touch() { last_ = std::chrono::steady_clock::now(); }

  void end(std::string_view why) {
    if (result_.ended_by.empty()) result_.ended_by = why;
  }

  awaitable<void> uplink() {
    for (;;) {
      auto frame = co_await reader_.next(client_);
      if (!frame) {
        const bool eof = frame.error().code == asio::error::eof;
        end(eof ? "eof" : frame.error().is(Errc::kProtocol) ? "bad frame" : "uplink error");
        co_return;
      }
      touch();
      if (frame->payload_size == 0) continue;
      const net::Destination& to = frame->address ? *frame->address : fixed_target_;
      std::error_code ec = co_await server_.send(reader_.payload(*frame), to);
      if (ec) {
        end("uplink error");
        co_return;
      }
      ++result_.uplink_packets;
    }
  }

  awaitable<void> downlink() {
    const std::size_t header_room = framing_.max_header;
    auto buffer = std::make_unique<std::uint8_t[]>(header_room + kMaxDatagram);
    std::uint8_t* payload = buffer.get() + header_room;
    for (;;) {
      auto r = co_await server_.receive(asio::buffer(payload, kMaxDatagram));
      if (r.ec) {
        end(r.ec == asio::error::eof ? "eof" : "downlink error");
        co_return;
      }
      touch();
      // spec/vless.md §6.2: an empty datagram is skipped, an oversized one dropped.
      if (r.bytes == 0 || r.bytes > framing_.max_written) continue;
      const std::size_t n = framing_.encode_header(r.peer, r.bytes, {buffer.get(), header_room});
      if (n == 0) continue;
      std::memmove(payload - n, buffer.get(), n);
      std::error_code ec = co_await client_.write_all(asio::buffer(payload - n, n + r.bytes));
      if (ec) {
        end("downlink error");
        co_return;
      }
      ++result_.downlink_packets;
    }
  }

  awaitable<void> watchdog() {
    for (;;) {
      const auto deadline = last_ + idle_;
      if (std::chrono::steady_clock::now() >= deadline) {
        end("idle timeout");
        co_return;
      }
      timer_.expires_at(deadline);
      auto [ec] = co_await timer_.async_wait(kTuple);
      if (ec == asio::error::operation_aborted) co_return;
    }
  }

  core::Stream& client_;
  FrameReader& reader_;
  core::PacketStream& server_;
  const DatagramFraming& framing_;
  const net::Destination& fixed_target_;
  std::chrono::steady_clock::duration idle_;
  std::chrono::steady_clock::time_point last_;
  asio::steady_timer timer_;
  DatagramRelayResult result_;
};

}  // namespace

FrameReader::FrameReader(const DatagramFraming& framing)
    : framing_(framing), buffer_(std::make_unique<std::uint8_t[]>(framing.max_frame)) {}

void FrameReader::seed(std::span<const std::uint8_t> bytes) {
  const std::size_t n = std::min(bytes.size(), framing_.max_frame - end_);
  std::memcpy(buffer_.get() + end_, bytes.data(), n);
  end_ += n;
}

awaitable<Expected<DatagramFrame>> FrameReader::next(core::Stream& stream) {
  for (;;) {
    if (end_ > begin_) {
      auto frame = framing_.parse({buffer_.get() + begin_, end_ - begin_});
      if (frame) {
        frame_begin_ = begin_;
        begin_ += frame->frame_size;
        co_return *frame;
      }
      if (!frame.error().is(Errc::kNeedMore)) co_return frame.error();
    }
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (begin_ > 0 && end_ == framing_.max_frame) {
      std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == framing_.max_frame) co_return Error(Errc::kTooLarge, "frame over its limit");
    auto [ec, n] =
        co_await stream.read_some(asio::buffer(buffer_.get() + end_, framing_.max_frame - end_));
    if (ec) co_return Error(ec);
    end_ += n;
  }
}

awaitable<DatagramRelayResult> relay_stream_datagrams(core::Stream& client, FrameReader& reader,
                                                      core::PacketStream& server,
                                                      const DatagramFraming& framing,
                                                      const net::Destination& fixed_target,
                                                      const core::Policy& policy) {
  DatagramRelay relay(client, reader, server, framing, fixed_target, policy);
  co_return co_await relay.run();
}

StreamPacketStream::StreamPacketStream(core::StreamPtr stream, const DatagramFraming& framing,
                                       net::Destination fixed_peer, bool fixed_destination)
    : stream_(std::move(stream)),
      framing_(framing),
      fixed_peer_(std::move(fixed_peer)),
      fixed_destination_(fixed_destination),
      reader_(framing) {}

StreamPacketStream::~StreamPacketStream() { stream_->close(); }

awaitable<core::PacketResult> StreamPacketStream::receive(asio::mutable_buffer buffer) {
  auto frame = co_await reader_.next(*stream_);
  if (!frame) {
    std::error_code ec = frame.error().code;
    co_return core::PacketResult{ec ? ec : base::make_error_code(Errc::kProtocol), 0, {}};
  }
  auto payload = reader_.payload(*frame);
  const std::size_t n = std::min(payload.size(), buffer.size());
  std::memcpy(buffer.data(), payload.data(), n);
  net::Destination peer = frame->address ? *frame->address : fixed_peer_;
  peer.network = net::Network::kUdp;
  co_return core::PacketResult{{}, n, std::move(peer)};
}

awaitable<std::error_code> StreamPacketStream::send(std::span<const std::uint8_t> payload,
                                                    const net::Destination& to) {
  if (payload.empty() || payload.size() > framing_.max_written) co_return std::error_code{};
  if (fixed_destination_ && (to.address != fixed_peer_.address || to.port != fixed_peer_.port)) {
    co_return std::error_code{};  // this stream can only reach the target of its header
  }
  std::array<std::uint8_t, kMaxDatagramHeader> header;
  const std::size_t n = framing_.encode_header(to, payload.size(), header);
  if (n == 0) co_return base::make_error_code(Errc::kProtocol);
  const std::array<asio::const_buffer, 2> frame{asio::buffer(header.data(), n),
                                                asio::buffer(payload.data(), payload.size())};
  co_return co_await stream_->write(frame);
}

}  // namespace xsup::worker::proxy
