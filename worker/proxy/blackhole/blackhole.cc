#include "worker/proxy/blackhole/blackhole.h"

#include <algorithm>
#include <asio/error.hpp>
#include <asio/this_coro.hpp>
#include <cstring>
#include <string_view>

namespace xsup::worker::proxy::blackhole {
namespace {

// Xray's blackhole HTTP response (proxy/blackhole/config.go).
constexpr std::string_view kHttpResponse =
    "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nCache-Control: max-age=3600, public\r\n"
    "Content-Length: 0\r\n\r\n";

// The far end of a blackhole: swallows what it is given; yields the response (if any),
// then the end of the stream.
class SinkStream final : public core::Stream {
 public:
  SinkStream(asio::any_io_executor executor, bool http)
      : executor_(std::move(executor)), pending_(http ? kHttpResponse : std::string_view{}) {}

  asio::any_io_executor get_executor() override { return executor_; }
  awaitable<std::error_code> wait_readable() override { co_return std::error_code{}; }
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override {
    if (pending_.empty()) co_return core::IoResult{asio::error::eof, 0};
    std::size_t n = std::min(buffer.size(), pending_.size());
    std::memcpy(buffer.data(), pending_.data(), n);
    pending_.remove_prefix(n);
    co_return core::IoResult{{}, n};
  }
  awaitable<std::error_code> write(std::span<const asio::const_buffer>) override {
    co_return std::error_code{};
  }
  awaitable<std::error_code> shutdown_send() override { co_return std::error_code{}; }
  void close() override { pending_ = {}; }

 private:
  asio::any_io_executor executor_;
  std::string_view pending_;
};

class Blackhole final : public Outbound {
 public:
  explicit Blackhole(const config::OutboundConfig& config)
      : Outbound(config),
        http_(std::get<config::BlackholeOutbound>(config.settings).http_response) {}

  awaitable<Expected<core::StreamPtr>> connect(core::Session& /*session*/) override {
    auto executor = co_await asio::this_coro::executor;
    co_return core::StreamPtr(std::make_unique<SinkStream>(executor, http_));
  }

  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& /*session*/) override {
    co_return base::Error(base::Errc::kBlocked, "blackhole");
  }

 private:
  bool http_;
};

}  // namespace

std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config) {
  return std::make_unique<Blackhole>(config);
}

}  // namespace xsup::worker::proxy::blackhole
