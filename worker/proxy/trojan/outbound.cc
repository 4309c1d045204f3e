#include "worker/proxy/trojan/outbound.h"

#include "worker/core/tcp_stream.h"
#include "worker/proxy/header_stream.h"
#include "worker/proxy/stream_datagrams.h"
#include "worker/proxy/trojan/codec.h"
#include "worker/proxy/trojan/trojan.h"
#include "worker/proxy/trojan/udp_framing.h"
#include "worker/transport/dial.h"

namespace xsup::worker::proxy::trojan {

using base::Errc;
using base::Error;

static_assert(kMaxRequestSize <= HeaderStream::kMaxRequest);

TrojanOutbound::TrojanOutbound(const config::OutboundConfig& config)
    : Outbound(config), settings_(std::get<config::TrojanOutbound>(config.settings)) {}

std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config) {
  return std::make_unique<TrojanOutbound>(config);
}

awaitable<Expected<core::StreamPtr>> TrojanOutbound::open(core::Session& session, bool udp) {
  if (settings_.servers.empty()) co_return Error(Errc::kNoRoute, "no Trojan server configured");
  const config::TrojanServer& server = settings_.servers.front();

  Request request;
  request.key = password_key(server.user.password);
  request.command = udp ? Command::kUdpAssociate : Command::kConnect;
  request.target = session.target;
  std::array<std::uint8_t, kMaxRequestSize> header;
  const std::size_t size = encode_request(request, header);
  if (size == 0) co_return Error(Errc::kProtocol, "target address cannot be sent over Trojan");

  auto dialled = co_await transport::dial_stream(config_, server.address, session);
  if (!dialled) co_return dialled.error();
  auto tcp = std::move(*dialled);
  co_return core::StreamPtr(
      std::make_unique<HeaderStream>(std::move(tcp), std::span(header.data(), size), nullptr));
}

awaitable<Expected<core::StreamPtr>> TrojanOutbound::connect(core::Session& session) {
  co_return co_await open(session, false);
}

awaitable<Expected<core::PacketStreamPtr>> TrojanOutbound::open_packets(core::Session& session) {
  auto stream = co_await open(session, true);
  if (!stream) co_return stream.error();
  net::Destination peer = session.target;
  peer.network = net::Network::kUdp;
  co_return core::PacketStreamPtr(std::make_unique<StreamPacketStream>(
      std::move(*stream), kUdpFraming, std::move(peer), /*fixed_destination=*/false));
}

}  // namespace xsup::worker::proxy::trojan
