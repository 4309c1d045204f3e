#include "worker/proxy/socks/inbound.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/core/prefetch.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/http/http.h"
#include "worker/proxy/socks/codec.h"
#include "worker/proxy/socks/handshake_reader.h"
#include "worker/proxy/socks/server_handshake.h"
#include "worker/proxy/socks/socks.h"

namespace xsup::worker::proxy::socks {

namespace {

UdpRelay::Options udp_options(const InboundContext& context, const config::SocksInbound& settings) {
  UdpRelay::Options options;
  options.inbound_tag = context.config.tag;
  options.require_association = settings.auth_password;
  options.level = settings.user_level;
  options.policy = context.policy.level(settings.user_level);
  options.sniffing = &context.config.sniffing;
  return options;
}

}  // namespace

SocksInbound::SocksInbound(const InboundContext& context)
    : context_(context), settings_(std::get<config::SocksInbound>(context.config.settings)) {
  if (settings_.udp) {
    dispatch::Dispatcher& dispatcher = context_.dispatcher;
    udp_ = std::make_unique<UdpRelay>(
        udp_options(context_, settings_),
        [&dispatcher](core::Session& session) { return dispatcher.open_packets(session); });
  }
}

SocksInbound::~SocksInbound() = default;

std::unique_ptr<Inbound> make_socks_inbound(const InboundContext& context) {
  return std::make_unique<SocksInbound>(context);
}

// ---- TCP ---------------------------------------------------------------------------------

awaitable<void> SocksInbound::serve(core::StreamPtr stream, core::Session session) {
  session.level = settings_.user_level;
  session.policy = context_.policy.level(settings_.user_level);
  session.sniffing = &context_.config.sniffing;

  core::Buffer buffer = core::BufferPool::local().acquire();
  HandshakeReader reader{buffer.span()};
  core::Deadline deadline(*stream, session.policy.handshake);
  auto result =
      co_await accept_handshake(*stream, reader, settings_, session.local, context_.config.tag);
  if (!result) {
    const base::Error& error = result.error();
    if (deadline.expired()) {
      log::info(session.id, "socks: rejected: handshake timeout");
    } else if (!error.reason.empty()) {
      log::info(session.id, "socks: rejected: {}", error.reason);
    } else {
      log::info(session.id, "socks: rejected: {}", error.code.message());
    }
    stream->close();
    co_return;
  }
  deadline.cancel();
  if (result->user) {
    session.user = result->user->email;
    session.user_from_store = result->user->from_store;
    session.level = result->user->level;
    session.policy = context_.policy.level(result->user->level);
  }

  switch (result->next) {
    case HandshakeResult::Next::kConnect:
      session.target = std::move(result->target);
      session.original_target = session.target;
      {
        // A named argument, not a temporary: g++ 12 destroys class temporaries in a co_await
        // expression twice (here: the pooled buffer, released twice).
        core::Prefetch first{std::move(buffer), reader.pos, reader.filled};
        co_await context_.dispatcher.dispatch(session, *stream, std::move(first));
        co_return;
      }
    case HandshakeResult::Next::kUdpAssociate:
      buffer = core::Buffer();  // an idle association holds no pooled buffer
      co_await hold_association(*stream, session);
      co_return;
    case HandshakeResult::Next::kNotSocks:
      // Xray serves HTTP proxy clients on the SOCKS port too (proxy/socks/server.go).
      {
        core::Prefetch first{std::move(buffer), 0, reader.filled};
        co_await http::serve_as_http(context_, std::move(stream), std::move(session),
                                     std::move(first));
      }
      co_return;
  }
}

awaitable<void> SocksInbound::hold_association(core::Stream& stream, const core::Session& session) {
  const bool has_ip = session.source.address.is_ip() && udp_ != nullptr;
  if (has_ip) {
    udp_->associate(session.source.address.ip(), session.user, session.level, session.policy);
  }
  log::debug(session.id, "socks: UDP ASSOCIATE from {}", session.source.host_port());
  // A store user who loses access loses the association (and so its UDP) at once.
  core::UserConnections::Enrollment enrollment;
  if (session.user_from_store) {
    auto enrolled = enroll_store_user(session, [&stream] { stream.close(); });
    if (enrolled) enrollment = std::move(*enrolled);
  }
  // The TCP connection only says the association is alive (RFC 1928 §7): drain it until the
  // client closes it.
  std::array<std::uint8_t, 256> sink;
  for (;;) {
    auto r = co_await stream.read_some(asio::buffer(sink));
    if (r.ec) break;
  }
  stream.close();
  if (has_ip) udp_->dissociate(session.source.address.ip());
}

awaitable<void> SocksInbound::serve_udp(asio::ip::udp::socket& socket) {
  if (udp_ != nullptr) co_await udp_->serve(socket);
}

}  // namespace xsup::worker::proxy::socks
