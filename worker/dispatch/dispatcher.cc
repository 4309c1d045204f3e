#include "worker/dispatch/dispatcher.h"

#include <fmt/format.h>

#include "shared/base/log.h"
#include "worker/core/relay.h"
#include "worker/dispatch/route.h"
#include "worker/proxy/user_directory.h"

namespace xsup::worker::dispatch {
namespace {

std::string source_text(const core::Session& session) {
  return log::mask(session.source.address.to_string()) + ":" + std::to_string(session.source.port);
}

void write_access(const core::Session& session, std::string_view verdict) {
  if (!log::access_enabled()) return;
  std::string line =
      fmt::format("from {} {} {} [{} -> {}]", source_text(session), verdict,
                  session.target.to_string(), session.inbound_tag, session.outbound_tag);
  if (!session.user.empty()) {
    line += " email: ";
    line += session.user;
  }
  log::access(line);
}

// Points the session's traffic cells at its user, inbound and outbound, and counts the
// connection in each.
void count_session(core::Session& session) {
  auto& table = core::traffic_table();
  if (!table.enabled) return;
  auto& cells = session.traffic;
  if (!session.inbound_tag.empty()) cells.inbound = &table.inbound(session.inbound_tag);
  if (!session.user.empty()) cells.user = &table.user(session.user);
  if (!session.outbound_tag.empty()) cells.outbound = &table.outbound(session.outbound_tag);
  for (core::TrafficCell* cell : {cells.user, cells.inbound, cells.outbound}) {
    if (cell != nullptr) ++cell->connections;
  }
}

// Counts a UDP session's datagrams: sent = uplink, received = downlink (payload bytes);
// a store user's session is closed when the user loses access.
class CountedPackets final : public core::PacketStream {
 public:
  CountedPackets(core::PacketStreamPtr inner, const core::Session& session)
      : inner_(std::move(inner)), traffic_(session.traffic) {}
  // A store user's session: closed when the user loses access. False when the user's IP
  // limit refuses it.
  bool enroll(const core::Session& session) {
    auto enrolled = proxy::enroll_store_user(session, [this] { inner_->close(); });
    if (enrolled) enrollment_ = std::move(*enrolled);
    return enrolled.has_value();
  }
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override {
    auto result = co_await inner_->receive(buffer);
    if (!result.ec) traffic_.add(false, result.bytes);
    co_return result;
  }
  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& to) override {
    auto ec = co_await inner_->send(payload, to);
    if (!ec) traffic_.add(true, payload.size());
    co_return ec;
  }
  void close() override { inner_->close(); }

 private:
  core::PacketStreamPtr inner_;
  core::TrafficCells traffic_;
  core::UserConnections::Enrollment enrollment_;
};

}  // namespace

Dispatcher::Dispatcher(const config::Config& config,
                       std::vector<std::unique_ptr<proxy::Outbound>> outbounds,
                       std::unique_ptr<Router> router)
    : config_(config),
      outbounds_(std::move(outbounds)),
      router_(std::move(router)),
      sniff_exclusions_(compile_sniff_exclusions(config)) {}

Dispatcher::~Dispatcher() = default;

awaitable<Expected<proxy::Outbound*>> Dispatcher::route(core::Session& session) {
  std::string tag;
  if (router_) {
    auto picked = co_await router_->pick(session);
    if (!picked) co_return picked.error();
    tag = std::move(*picked);
  }
  if (tag.empty()) {
    if (outbounds_.empty()) co_return base::Error(base::Errc::kNoRoute, "no outbound configured");
    session.outbound_tag = outbounds_.front()->tag();
    count_session(session);
    co_return outbounds_.front().get();
  }
  for (auto& outbound : outbounds_) {
    if (outbound->tag() == tag) {
      session.outbound_tag = tag;
      count_session(session);
      co_return outbound.get();
    }
  }
  // Xray closes such connections rather than using the default outbound.
  session.outbound_tag = tag;
  co_return base::Error(base::Errc::kNoRoute, "routed to an outbound tag that does not exist");
}

awaitable<void> Dispatcher::dispatch(core::Session& session, core::Stream& client,
                                     core::Prefetch first) {
  if (session.sniffing != nullptr && session.sniffing->enabled) {
    auto it = sniff_exclusions_.find(session.sniffing);
    const SniffExclusions* exclusions = it == sniff_exclusions_.end() ? nullptr : &it->second;
    co_await sniff_first_bytes(session, client, first, exclusions);
  }
  auto outbound = co_await route(session);
  if (!outbound) {
    write_access(session, "rejected");
    log::info(session.id, "dispatch: {} for {}: {}",
              session.outbound_tag.empty() ? "no route" : "no outbound " + session.outbound_tag,
              session.target.to_string(), outbound.error().message());
    co_return;
  }
  // A store user who loses access (removed, disabled, expired, over quota) loses this
  // connection at once; one over their IP limit is refused.
  core::Stream* upstream = nullptr;
  core::UserConnections::Enrollment enrollment;
  if (session.user_from_store) {
    auto enrolled = proxy::enroll_store_user(session, [&client, &upstream] {
      client.close();
      if (upstream != nullptr) upstream->close();
    });
    if (!enrolled) {
      write_access(session, "rejected");
      co_return;
    }
    enrollment = std::move(*enrolled);
  }
  write_access(session, "accepted");
  auto server = co_await (*outbound)->connect(session);
  if (!server) {
    log::info(session.id, "{}: failed to open {}: {}", session.outbound_tag,
              session.target.to_string(), server.error().message());
    co_return;
  }
  upstream = server->get();
  // Hand the prefetched bytes over, then give the buffer back before the long relay.
  std::uint64_t first_bytes = first.size();
  session.traffic.add(true, first_bytes);
  if (first_bytes > 0) {
    std::error_code ec =
        co_await (*server)->write_all(asio::buffer(first.bytes().data(), first.bytes().size()));
    if (ec) {
      log::info(session.id, "{}: write to {} failed: {}", session.outbound_tag,
                session.target.to_string(), ec.message());
      (*server)->close();
      co_return;
    }
  }
  first = core::Prefetch{};
  auto result = co_await core::relay(client, **server, {}, session.policy, session.traffic);
  (*server)->close();
  if (enrollment.revoked()) {
    result.ended_by = "user lost access";
    result.error = {};
  }
  log::info(session.id, "closed {}: up {} down {} via {} ({}{}{})", session.target.to_string(),
            result.uplink + first_bytes, result.downlink, result.spliced ? "splice" : "copy",
            result.ended_by, result.error ? ": " : "", result.error ? result.error.message() : "");
}

awaitable<Expected<core::StreamPtr>> Dispatcher::connect(core::Session& session) {
  auto outbound = co_await route(session);
  if (!outbound) co_return outbound.error();
  write_access(session, "accepted");
  co_return co_await (*outbound)->connect(session);
}

awaitable<Expected<core::PacketStreamPtr>> Dispatcher::open_packets(core::Session& session) {
  auto outbound = co_await route(session);
  if (!outbound) {
    write_access(session, "rejected");
    co_return outbound.error();
  }
  write_access(session, "accepted");
  auto packets = co_await (*outbound)->open_packets(session);
  if (!packets) co_return packets.error();
  if (!core::traffic_table().enabled && !session.user_from_store) co_return packets;
  auto counted = std::make_unique<CountedPackets>(std::move(*packets), session);
  if (session.user_from_store && !counted->enroll(session)) {
    co_return base::Error(base::Errc::kBlocked, "the user's IP limit is reached");
  }
  co_return core::PacketStreamPtr(std::move(counted));
}

}  // namespace xsup::worker::dispatch
