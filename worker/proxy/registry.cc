// The protocols a worker knows, as explicit tables (STYLE.md §5): one line per protocol.
// The config loader accepts only the names listed here (normalised spellings).

#include "worker/proxy/registry.h"

#include <stdexcept>

#include "worker/proxy/blackhole/blackhole.h"
#include "worker/proxy/dokodemo/dokodemo.h"
#include "worker/proxy/freedom/freedom.h"
#include "worker/proxy/http/http.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/mux/client.h"
#include "worker/proxy/outbound.h"
#include "worker/proxy/shadowsocks/shadowsocks.h"
#include "worker/proxy/socks/socks.h"
#include "worker/proxy/trojan/trojan.h"
#include "worker/proxy/vless/vless.h"
#include "worker/proxy/vmess/vmess.h"

namespace xsup::worker::proxy {
namespace {

struct InboundEntry {
  const char* protocol;
  std::unique_ptr<Inbound> (*make)(const InboundContext&);
};

struct OutboundEntry {
  const char* protocol;
  std::unique_ptr<Outbound> (*make)(const config::OutboundConfig&);
};

constexpr InboundEntry kInbounds[] = {
    {"socks", socks::make_socks_inbound},      {"http", http::make_http_inbound},
    {"dokodemo-door", dokodemo::make_inbound}, {"shadowsocks", shadowsocks::make_inbound},
    {"vmess", vmess::make_vmess_inbound},      {"vless", vless::make_inbound},
    {"trojan", trojan::make_inbound},
};

constexpr OutboundEntry kOutbounds[] = {
    {"freedom", freedom::make_outbound},
    {"blackhole", blackhole::make_outbound},
    {"socks", socks::make_socks_outbound},
    {"http", http::make_http_outbound},
    {"shadowsocks", shadowsocks::make_outbound},
    {"vmess", vmess::make_vmess_outbound},
    {"vless", vless::make_outbound},
    {"trojan", trojan::make_outbound},
};

}  // namespace

bool knows_inbound(std::string_view protocol) {
  for (const auto& entry : kInbounds) {
    if (protocol == entry.protocol) return true;
  }
  return false;
}

bool knows_outbound(std::string_view protocol) {
  for (const auto& entry : kOutbounds) {
    if (protocol == entry.protocol) return true;
  }
  return false;
}

std::unique_ptr<Inbound> make_inbound(const InboundContext& context) {
  for (const auto& entry : kInbounds) {
    if (context.config.protocol == entry.protocol) return entry.make(context);
  }
  throw std::runtime_error(context.config.path + ".protocol: \"" + context.config.protocol +
                           "\" not supported yet");
}

std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config) {
  for (const auto& entry : kOutbounds) {
    if (config.protocol == entry.protocol) return mux::make_client(config, entry.make(config));
  }
  throw std::runtime_error(config.path + ".protocol: \"" + config.protocol +
                           "\" not supported yet");
}

}  // namespace xsup::worker::proxy
