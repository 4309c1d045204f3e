#pragma once
// The dispatcher's two decisions before a connection is opened: what the first client
// bytes say (sniffing, spec/sniffing-routing.md §2) and which outbound takes it.

#include <asio/awaitable.hpp>
#include <string>

#include "shared/base/error.h"
#include "worker/core/prefetch.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"

namespace xsup::worker::dispatch {

using asio::awaitable;

class Router {
 public:
  virtual ~Router() = default;
  // The outbound tag for the session; "" means the default (first) outbound. May resolve
  // the target's domain (domainStrategy), never blocking the loop.
  virtual awaitable<base::Expected<std::string>> pick(core::Session& session) = 0;
};

// Reads the client's first bytes into `first` (at most its buffer, within the sniffing
// time budget) and applies what they reveal: session.protocol, and the sniffed domain as
// the target or, with routeOnly, as session.route_domain.
// `exclusions`: the inbound's compiled domainsExcluded / ipsExcluded, or nullptr.
struct SniffExclusions;
awaitable<void> sniff_first_bytes(core::Session& session, core::Stream& client,
                                  core::Prefetch& first, const SniffExclusions* exclusions);

}  // namespace xsup::worker::dispatch
