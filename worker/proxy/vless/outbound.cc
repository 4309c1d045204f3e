#include "worker/proxy/vless/outbound.h"

#include "worker/core/tcp_stream.h"
#include "worker/proxy/header_stream.h"
#include "worker/proxy/mux/codec.h"
#include "worker/proxy/stream_datagrams.h"
#include "worker/proxy/vless/codec.h"
#include "worker/proxy/vless/udp_framing.h"
#include "worker/proxy/vless/vision_stream.h"
#include "worker/proxy/vless/vless.h"
#include "worker/transport/dial.h"
#include "worker/transport/tls/tls_stream.h"

namespace xsup::worker::proxy::vless {

using base::Errc;
using base::Error;

namespace {

static_assert(kMaxRequestSize <= HeaderStream::kMaxRequest);

Expected<std::size_t> response_size(std::span<const std::uint8_t> in) {
  auto parsed = parse_response(in);
  if (!parsed) return parsed.error();
  return parsed->consumed;
}

}  // namespace

VlessOutbound::VlessOutbound(const config::OutboundConfig& config)
    : Outbound(config), settings_(std::get<config::VlessOutbound>(config.settings)) {}

std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config) {
  return std::make_unique<VlessOutbound>(config);
}

awaitable<Expected<core::StreamPtr>> VlessOutbound::open(core::Session& session, bool udp) {
  if (settings_.vnext.empty() || settings_.vnext.front().users.empty()) {
    co_return Error(Errc::kNoRoute, "no VLESS server configured");
  }
  const config::VlessServer& server = settings_.vnext.front();
  const config::VlessUser& user = server.users.front();

  // Vision pads TCP and Mux bodies; UDP goes without the flow, which a Vision user may do
  // (spec/vless.md §5), except to port 443 unless the flow is the -udp443 variant: Xray
  // refuses that so that QUIC falls back to TCP, where Vision helps.
  const bool vision = is_vision_flow(user.flow) && !udp;
  if (udp && is_vision_flow(user.flow) && session.target.port == 443 && user.flow == kFlowVision) {
    co_return Error(Errc::kUnsupported, "XTLS rejected UDP/443 traffic");
  }
  Request request;
  request.user = user.id;
  if (vision) request.flow = std::string(kFlowVision);
  // spec/mux.md §2: the Mux.Cool target is sent as command 3, with no address.
  request.command = udp                                  ? Command::kUdp
                    : mux::is_mux_target(session.target) ? Command::kMux
                                                         : Command::kTcp;
  request.target = session.target;
  std::array<std::uint8_t, kMaxRequestSize> header;
  const std::size_t size = encode_request(request, header);
  if (size == 0) co_return Error(Errc::kProtocol, "target address cannot be sent over VLESS");

  auto dialled = co_await transport::dial_stream(config_, server.address, session);
  if (!dialled) co_return dialled.error();
  auto tcp = std::move(*dialled);
  transport::tls::TlsStream* outer_tls = nullptr;
  if (vision) {
    // spec/vision.md §1: only TLS 1.3 directly over TCP may be left for the raw socket.
    outer_tls = dynamic_cast<transport::tls::TlsStream*>(tcp.get());
    if (outer_tls == nullptr || !outer_tls->is_tls13()) {
      tcp->close();
      co_return Error(Errc::kUnsupported, "XTLS only supports TLS 1.3 directly over TCP");
    }
  }
  auto body = core::StreamPtr(std::make_unique<HeaderStream>(
      std::move(tcp), std::span(header.data(), size), response_size));
  if (!vision) co_return body;
  co_return core::StreamPtr(std::make_unique<VisionStream>(
      std::move(body), *outer_tls, user.id, std::span<const std::uint8_t>{}, session.id));
}

awaitable<Expected<core::StreamPtr>> VlessOutbound::connect(core::Session& session) {
  co_return co_await open(session, false);
}

awaitable<Expected<core::PacketStreamPtr>> VlessOutbound::open_packets(core::Session& session) {
  auto stream = co_await open(session, true);
  if (!stream) co_return stream.error();
  net::Destination peer = session.target;
  peer.network = net::Network::kUdp;
  co_return core::PacketStreamPtr(std::make_unique<StreamPacketStream>(
      std::move(*stream), kUdpFraming, std::move(peer), /*fixed_destination=*/true));
}

}  // namespace xsup::worker::proxy::vless
