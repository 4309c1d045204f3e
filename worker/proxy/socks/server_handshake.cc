#include "worker/proxy/socks/server_handshake.h"

#include "worker/proxy/socks/codec.h"

namespace xsup::worker::proxy::socks {
namespace {

using base::Errc;
using base::Error;
using base::Expected;
using base::Status;

template <std::size_t N>
asio::const_buffer as_buffer(const Bytes<N>& bytes) {
  return asio::buffer(bytes.data.data(), bytes.size);
}

asio::awaitable<Status> send(core::Stream& stream, asio::const_buffer bytes) {
  if (auto ec = co_await stream.write_all(bytes); ec) {
    co_return Error(ec, "write failed during the handshake");
  }
  co_return Status{};
}

// Dual-stack sockets report IPv4 as ::ffff:a.b.c.d; replies carry the plain IPv4 form.
net::Address ip_or_any(const net::Address& address) {
  if (address.is_ip()) {
    const auto& ip = address.ip();
    if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
      return net::Address(
          asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6())));
    }
    return address;
  }
  return net::Address(asio::ip::address(asio::ip::address_v4::any()));
}

// Answers with `reply` (RFC 1928 §6), then fails with `reason`.
asio::awaitable<Error> refuse(core::Stream& stream, Reply reply, const net::Destination& local,
                              std::string_view reason) {
  auto bytes = encode_reply(reply, ip_or_any(local.address), 0);
  if (bytes) {
    if (auto sent = co_await send(stream, as_buffer(*bytes)); !sent) co_return sent.error();
  }
  co_return Error(Errc::kUnsupported, reason);
}

asio::awaitable<Expected<HandshakeResult>> accept_socks4(core::Stream& stream,
                                                         HandshakeReader& reader,
                                                         const config::SocksInbound& settings) {
  auto request = co_await reader.next(stream, parse_request4);
  if (!request) co_return request.error();
  const auto refused = encode_reply4(false, 0, asio::ip::address_v4::any());
  // SOCKS4 has no way to carry a password (proxy/socks/protocol.go refuses it too).
  if (settings.auth_password) {
    if (auto sent = co_await send(stream, as_buffer(refused)); !sent) co_return sent.error();
    co_return Error(Errc::kAuthFailed, "SOCKS4 while password authentication is on");
  }
  if (request->command != static_cast<std::uint8_t>(Command::kConnect)) {
    if (auto sent = co_await send(stream, as_buffer(refused)); !sent) co_return sent.error();
    co_return Error(Errc::kUnsupported, "SOCKS4 command not supported");
  }
  // DSTPORT and DSTIP of a CONNECT reply are ignored by clients.
  const auto granted = encode_reply4(true, 0, asio::ip::address_v4::any());
  if (auto sent = co_await send(stream, as_buffer(granted)); !sent) co_return sent.error();
  HandshakeResult result;
  result.target = {net::Network::kTcp, std::move(request->address), request->port};
  co_return result;
}

asio::awaitable<Expected<HandshakeResult>> accept_socks5(core::Stream& stream,
                                                         HandshakeReader& reader,
                                                         const config::SocksInbound& settings,
                                                         const net::Destination& local,
                                                         std::string_view inbound_tag) {
  HandshakeResult result;
  // RFC 1928 §3: method negotiation.
  auto greeting = co_await reader.next(stream, parse_greeting);
  if (!greeting) co_return greeting.error();
  const std::uint8_t method = settings.auth_password ? kMethodPassword : kMethodNoAuth;
  if (!greeting->offers(method)) {
    auto none = encode_method_choice(kMethodNoAcceptable);
    if (auto sent = co_await send(stream, as_buffer(none)); !sent) co_return sent.error();
    co_return Error(Errc::kAuthFailed, "no acceptable authentication method");
  }
  const auto choice = encode_method_choice(method);
  if (auto sent = co_await send(stream, as_buffer(choice)); !sent) {
    co_return sent.error();
  }

  if (settings.auth_password) {
    // RFC 1929 §2.
    auto credentials = co_await reader.next(stream, parse_credentials);
    if (!credentials) co_return credentials.error();
    auto user = check_account(inbound_tag, settings.accounts, credentials->user, credentials->pass);
    const bool ok = user.has_value();
    const auto status = encode_auth_status(ok);
    if (auto sent = co_await send(stream, as_buffer(status)); !sent) {
      co_return sent.error();
    }
    if (!ok) co_return Error(Errc::kAuthFailed, "invalid user name or password");
    result.user = std::move(user);
  }

  // RFC 1928 §4.
  auto request = co_await reader.next(stream, parse_request);
  if (!request) co_return request.error();
  switch (request->command) {
    case Command::kConnect:
    case Command::kTorResolve:
    case Command::kTorResolvePtr: {
      // Xray answers at once with the inbound's own address, before the outbound connects.
      auto reply = encode_reply(Reply::kSucceeded, ip_or_any(local.address), local.port);
      if (!reply) co_return reply.error();
      if (auto sent = co_await send(stream, as_buffer(*reply)); !sent) co_return sent.error();
      result.next = HandshakeResult::Next::kConnect;
      result.target = {net::Network::kTcp, std::move(request->address), request->port};
      co_return result;
    }
    case Command::kUdpAssociate: {
      if (!settings.udp) {
        co_return co_await refuse(stream, Reply::kCommandNotSupported, local,
                                  "UDP ASSOCIATE while udp is off");
      }
      // BND.ADDR/BND.PORT name the UDP relay: the configured ip, else the address the client
      // reached; the UDP socket shares the inbound's port.
      net::Address relay =
          settings.ip.empty() ? ip_or_any(local.address) : net::Address::parse(settings.ip);
      auto reply = encode_reply(Reply::kSucceeded, relay, local.port);
      if (!reply) co_return reply.error();
      if (auto sent = co_await send(stream, as_buffer(*reply)); !sent) co_return sent.error();
      result.next = HandshakeResult::Next::kUdpAssociate;
      co_return result;
    }
    case Command::kBind:
      co_return co_await refuse(stream, Reply::kCommandNotSupported, local,
                                "BIND is not supported");
  }
  co_return co_await refuse(stream, Reply::kCommandNotSupported, local, "unknown command");
}

}  // namespace

asio::awaitable<Expected<HandshakeResult>> accept_handshake(core::Stream& stream,
                                                            HandshakeReader& reader,
                                                            const config::SocksInbound& settings,
                                                            const net::Destination& local,
                                                            std::string_view inbound_tag) {
  if (reader.filled == 0) {
    if (auto status = co_await reader.fill(stream); !status) co_return status.error();
  }
  switch (reader.storage[reader.pos]) {
    case kVersion5:
      co_return co_await accept_socks5(stream, reader, settings, local, inbound_tag);
    case kVersion4:
      co_return co_await accept_socks4(stream, reader, settings);
    default: {
      HandshakeResult result;
      result.next = HandshakeResult::Next::kNotSocks;
      co_return result;
    }
  }
}

}  // namespace xsup::worker::proxy::socks
