#pragma once
// The HTTP proxy inbound: see http.h and serve_as_http.

#include "worker/proxy/inbound.h"

namespace xsup::worker::proxy::http {

class HttpInbound final : public Inbound {
 public:
  explicit HttpInbound(const InboundContext& context) : context_(context) {}

  awaitable<void> serve(core::StreamPtr stream, core::Session session) override;

 private:
  InboundContext context_;
};

}  // namespace xsup::worker::proxy::http
