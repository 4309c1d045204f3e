#pragma once
// The HTTP inbound's entry point for a connection that arrived on a SOCKS port but does not
// speak SOCKS (its first byte is neither 4 nor 5): Xray serves HTTP proxy requests on the
// SOCKS port ("mixed"). Implemented by worker/proxy/http; declared here until its header
// lands, with the same signature, so the two reconcile at merge.

#include "worker/core/prefetch.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"
#include "worker/proxy/inbound.h"

namespace xsup::worker::proxy::http {

// Serves `stream` as an HTTP proxy connection; `first` holds the bytes already read.
awaitable<void> serve_as_http(const InboundContext& context, core::StreamPtr stream,
                              core::Session session, core::Prefetch first);

}  // namespace xsup::worker::proxy::http
