#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>

#include "shared/base/log.h"
#include "worker/dispatch/route.h"
#include "worker/dispatch/sniff/sniffer.h"
#include "worker/dispatch/sniff_exclusions.h"

namespace xsup::worker::dispatch {
namespace {

using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// The sniffer waits for client bytes at most this long in all (spec/sniffing-routing.md §2).
constexpr std::chrono::milliseconds kSniffBudget{200};
// Xray gives up after two reads that told nothing (spec §2).
constexpr int kMaxAttempts = 2;

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

awaitable<void> sniff_first_bytes(core::Session& session, core::Stream& client,
                                  core::Prefetch& first, const SniffExclusions* exclusions) {
  const config::SniffingConfig& cfg = *session.sniffing;
  if (cfg.metadata_only) co_return;  // only FakeDNS reads metadata, and it has not landed
  if (!first.buffer) {
    first.buffer = core::BufferPool::local().acquire();
    first.begin = first.end = 0;
  }
  if (first.begin > 0) {  // make room at the end
    std::memmove(first.buffer.data(), first.buffer.data() + first.begin, first.size());
    first.end -= first.begin;
    first.begin = 0;
  }
  auto deadline = std::chrono::steady_clock::now() + kSniffBudget;
  asio::steady_timer timer(client.get_executor());
  int attempts = 0;
  while (true) {
    if (!first.empty()) {
      auto result = sniff::sniff_tcp(first.bytes());
      if (result) {
        session.protocol = result->protocol;
        const std::string& domain = result->domain;
        bool wanted = false;
        for (const auto& p : cfg.dest_override) {
          if (has_prefix(session.protocol, p) || has_prefix(p, session.protocol)) wanted = true;
        }
        bool excluded = false;
        if (exclusions != nullptr) {
          excluded = exclusions->domains.match(domain) ||
                     (session.original_target.address.is_ip() &&
                      exclusions->ips.match(session.original_target.address.ip()));
        }
        if (!domain.empty() && wanted && !excluded) {
          log::debug(session.id, "sniffed {} domain {}", session.protocol, domain);
          if (cfg.route_only) {
            session.route_domain = domain;
          } else {
            session.target.address = net::Address::parse(domain);
          }
        }
        co_return;
      }
      if (!result.error().is(base::Errc::kNeedMore)) co_return;  // unknown content
      if (++attempts >= kMaxAttempts) co_return;
    }
    if (first.end >= first.buffer.capacity()) co_return;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) co_return;
    timer.expires_at(deadline);
    auto outcome = co_await (client.read_some(asio::buffer(first.buffer.data() + first.end,
                                                           first.buffer.capacity() - first.end)) ||
                             timer.async_wait(kTuple));
    if (outcome.index() == 1) co_return;  // budget spent: route without a result
    auto io = std::get<0>(outcome);
    if (io.ec) co_return;  // the relay will see the same end
    first.end += io.bytes;
  }
}

}  // namespace xsup::worker::dispatch
