#include "worker/proxy/trojan/inbound.h"

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/core/prefetch.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/fallback/fallback.h"
#include "worker/proxy/mux/server.h"
#include "worker/proxy/stream_datagrams.h"
#include "worker/proxy/trojan/codec.h"
#include "worker/proxy/trojan/trojan.h"
#include "worker/proxy/trojan/udp_framing.h"
#include "worker/proxy/user_directory.h"

namespace xsup::worker::proxy::trojan {

TrojanInbound::TrojanInbound(const InboundContext& context)
    : context_(context),
      settings_(std::get<config::TrojanInbound>(context.config.settings)),
      users_(std::make_shared<const UserTable>(settings_.clients)) {
  if (!settings_.fallbacks.empty()) {
    fallbacks_ = std::make_unique<fallback::FallbackTable>(settings_.fallbacks);
  }
}

TrojanInbound::~TrojanInbound() = default;

const UserTablePtr& TrojanInbound::current_users() {
  const UserDirectory& directory = user_directory();
  if (directory.version() != store_version_) {
    users_ =
        std::make_shared<const UserTable>(settings_.clients, &directory.set(), context_.config.tag);
    store_version_ = directory.version();
  }
  return users_;
}

std::unique_ptr<Inbound> make_inbound(const InboundContext& context) {
  return std::make_unique<TrojanInbound>(context);
}

awaitable<void> TrojanInbound::serve(core::StreamPtr stream, core::Session session) {
  session.policy = context_.policy.level(0);
  session.sniffing = &context_.config.sniffing;
  const UserTablePtr users = current_users();  // the set this connection started with

  core::Buffer buffer = core::BufferPool::local().acquire();
  const std::size_t capacity = buffer.capacity();
  std::size_t filled = 0;
  core::Deadline deadline(*stream, session.policy.handshake);
  const User* user = nullptr;
  std::string_view not_trojan;
  std::size_t consumed = 0;
  Request request;

  for (;;) {
    auto [ec, n] =
        co_await stream->read_some(asio::buffer(buffer.data() + filled, capacity - filled));
    if (ec) {
      log::info(session.id, "trojan: rejected: {}",
                deadline.expired() ? std::string("handshake timeout")
                                   : "failed to read request: " + ec.message());
      stream->close();
      co_return;
    }
    filled += n;
    std::span<const std::uint8_t> bytes(buffer.data(), filled);
    if (user == nullptr) {
      // spec/trojan.md §4: the first read alone decides whether this is Trojan.
      auto key = peek_key(bytes);
      if (!key) {
        not_trojan = key.error().reason;
        break;
      }
      user = users->find(*key);
      if (user == nullptr) {
        not_trojan = "invalid user";
        break;
      }
    }
    auto parsed = parse_request(bytes);
    if (parsed) {
      request = std::move(parsed->value);
      consumed = parsed->consumed;
      break;
    }
    if (!parsed.error().is(base::Errc::kNeedMore) || filled == capacity) {
      const auto reason =
          parsed.error().is(base::Errc::kNeedMore) ? "request too long" : parsed.error().reason;
      log::info(session.id, "trojan: rejected: {}", reason);
      stream->close();
      co_return;
    }
  }
  deadline.cancel();
  if (deadline.expired()) {
    log::info(session.id, "trojan: rejected: handshake timeout");
    co_return;
  }

  if (!not_trojan.empty()) {
    if (fallbacks_ == nullptr) {
      log::info(session.id, "trojan: rejected: {}", not_trojan);
      stream->close();
      co_return;
    }
    log::debug(session.id, "trojan: not Trojan ({}), falling back", not_trojan);
    co_await fallback::serve(*fallbacks_, *stream, session, {buffer.data(), filled}, "trojan");
    co_return;
  }

  session.user = user->email;
  session.user_from_store = user->from_store;
  session.level = user->level;
  session.policy = context_.policy.level(user->level);
  session.target = request.target;
  session.original_target = session.target;

  // spec/mux.md §2: an Xray client with mux names the Mux.Cool target.
  if (request.command != Command::kUdpAssociate && mux::is_mux_target(request.target)) {
    std::span<const std::uint8_t> rest(buffer.data() + consumed, filled - consumed);
    co_await mux::serve(*stream, session, context_.dispatcher, xudp_, rest, "trojan");
    co_return;
  }
  if (request.command == Command::kUdpAssociate) {
    std::span<const std::uint8_t> rest(buffer.data() + consumed, filled - consumed);
    co_await serve_udp(*stream, session, rest);
    co_return;
  }
  // A named argument, not a temporary: g++ 12 destroys class temporaries in a co_await
  // expression twice.
  core::Prefetch first{std::move(buffer), consumed, filled};
  co_await context_.dispatcher.dispatch(session, *stream, std::move(first));
}

awaitable<void> TrojanInbound::serve_udp(core::Stream& stream, core::Session& session,
                                         std::span<const std::uint8_t> rest) {
  FrameReader reader(kUdpFraming);
  reader.seed(rest);
  // spec/trojan.md §3: the header's address only opens the session; each packet names its
  // own destination.
  auto packets = co_await context_.dispatcher.open_packets(session);
  if (!packets) {
    log::info(session.id, "{}: failed to open {}: {}", session.outbound_tag,
              session.target.to_string(), packets.error().message());
    stream.close();
    co_return;
  }
  auto result = co_await relay_stream_datagrams(stream, reader, **packets, kUdpFraming,
                                                session.target, session.policy);
  (*packets)->close();
  stream.close();
  log::info(session.id, "closed {}: up {} down {} packets ({})", session.target.to_string(),
            result.uplink_packets, result.downlink_packets, result.ended_by);
}

}  // namespace xsup::worker::proxy::trojan
