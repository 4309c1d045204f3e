// outbounds[] (spec/config.md §1, seeds/socks-http.md): freedom/direct, blackhole/block,
// socks, http, vmess and shadowsocks run today; other Xray protocols are recognised and
// rejected.

#include <fmt/format.h>

#include <array>
#include <asio/ip/address.hpp>
#include <set>

#include "shared/config/builders.h"

namespace xsup::config {
namespace {

constexpr std::array<std::string_view, 5> kKnownOutbounds{"wireguard", "hysteria", "hysteria2",
                                                          "loopback", "dns"};

std::optional<net::Destination> parse_redirect(const Value& where, const std::string& text) {
  net::Destination d;
  if (!text.empty() && text[0] == ':') {
    auto list = net::PortList::parse(text.substr(1));
    if (!list || list->ranges().size() != 1 || list->ranges()[0].from != list->ranges()[0].to ||
        list->ranges()[0].from == 0) {
      where.error(fmt::format("{} is not a port number", show(text.substr(1))));
      return std::nullopt;
    }
    d.port = list->ranges()[0].from;
    return d;
  }
  if (auto hp = net::parse_host_port(text, net::Network::kTcp)) return hp;
  // No port: the whole text is the host (an IPv6 literal has colons but no port).
  std::string host = text;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.find_first_of(" /") != std::string::npos ||
      (host.find(':') != std::string::npos && net::Address::parse(host).is_domain())) {
    where.error(fmt::format("{} is not host:port, :port or a host", show(text)));
    return std::nullopt;
  }
  d.address = net::Address::parse(host);
  return d;
}

FreedomOutbound build_freedom(Object& settings) {
  FreedomOutbound out;
  if (auto ds = read_domain_strategy(settings.get("domainStrategy"))) out.domain_strategy = *ds;
  Value redirect = settings.get("redirect");
  if (auto r = redirect.as_string(); r && !r->empty()) out.redirect = parse_redirect(redirect, *r);
  settings.read("userLevel", out.user_level);
  for (std::string_view key : {"fragment", "noises", "finalRules", "ipsBlocked"}) {
    Value v = settings.get(key);
    if (!v.empty()) v.not_supported();
  }
  Value proxy_protocol = settings.get("proxyProtocol");
  if (auto n = proxy_protocol.as_int(0, 2); n && *n != 0) proxy_protocol.not_supported();
  return out;
}

BlackholeOutbound build_blackhole(Object& settings) {
  BlackholeOutbound out;
  Object response(settings.get("response"));
  Value type = response.get("type");
  if (auto t = type.as_string()) {
    if (iequals(*t, "http")) {
      out.http_response = true;
    } else if (!iequals(*t, "none") && !t->empty()) {
      type.error(fmt::format("{} is not a response type (none, http)", show(type.json())));
    }
  }
  return out;
}

Account read_user(const Value& value) {
  Object user(value);
  Account account;
  Value name = user.get("user");
  if (!user.read("user", account.user) && name.absent()) name.error("required");
  user.read("pass", account.pass);
  user.read("level", account.level);
  account.email = account.user;
  user.read("email", account.email);
  return account;
}

// One server object, or the flat form's settings object itself.
std::optional<ProxyServer> read_server(Object& server, bool flat) {
  ProxyServer out;
  bool ok = true;
  Value address = server.get("address");
  if (auto a = address.as_string()) {
    if (a->empty()) {
      address.error("must not be empty");
      ok = false;
    } else {
      out.address.address = net::Address::parse(*a);
    }
  } else {
    if (address.absent()) address.error("required");
    ok = false;
  }
  Value port = server.get("port");
  if (auto p = port.as_port(1)) {
    out.address.port = *p;
  } else {
    if (port.absent()) port.error("required");
    ok = false;
  }
  if (flat) {
    Value user = server.get("user");
    if (user.present()) {
      Account account;
      server.read("user", account.user);
      server.read("pass", account.pass);
      server.read("level", account.level);
      account.email = account.user;
      server.read("email", account.email);
      out.users.push_back(std::move(account));
    } else {
      server.get("pass").as_string();
      server.get("level").as_uint32();
      server.get("email").as_string();
    }
  } else {
    for (const auto& u : server.get("users").elements()) out.users.push_back(read_user(u));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::vector<ProxyServer> read_servers(Object& settings) {
  std::vector<ProxyServer> out;
  Value servers = settings.get("servers");
  if (servers.present()) {
    for (const auto& item : servers.elements()) {
      Object server(item);
      if (!server.valid()) continue;
      if (auto s = read_server(server, false)) out.push_back(std::move(*s));
    }
    if (servers.is_array() && servers.json().empty()) {
      servers.error("at least one server is required");
    }
    return out;
  }
  if (auto s = read_server(settings, true)) out.push_back(std::move(*s));
  return out;
}

}  // namespace

void build_outbounds(const Value& value, Config& config) {
  std::set<std::string> tags;
  for (const auto& item : value.elements()) {
    Object out(item);
    if (!out.valid()) continue;
    OutboundConfig oc;
    oc.path = item.path();
    bool ok = true;
    const std::size_t errors_before = item.diags().error_count();

    Value tag = out.get("tag");
    if (out.read("tag", oc.tag) && !oc.tag.empty() && !tags.insert(oc.tag).second) {
      tag.error(fmt::format("duplicate tag {}", show(oc.tag)));
      ok = false;
    }

    Value protocol = out.get("protocol");
    std::string name = protocol.as_string().value_or("");
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    Object settings(out.get("settings"));
    if (protocol.absent()) {
      protocol.error("required");
      ok = false;
      settings.ignore_rest();
    } else if (name == "freedom" || name == "direct") {
      oc.protocol = "freedom";
      oc.settings = build_freedom(settings);
    } else if (name == "blackhole" || name == "block") {
      oc.protocol = "blackhole";
      oc.settings = build_blackhole(settings);
    } else if (name == "socks") {
      oc.protocol = "socks";
      oc.settings = SocksOutbound{read_servers(settings)};
      ok = ok && !std::get<SocksOutbound>(oc.settings).servers.empty();
    } else if (name == "vless") {
      oc.protocol = "vless";
      oc.settings = build_vless_outbound(settings);
      ok = ok && !std::get<VlessOutbound>(oc.settings).vnext.empty();
    } else if (name == "trojan") {
      oc.protocol = "trojan";
      oc.settings = build_trojan_outbound(settings);
      ok = ok && !std::get<TrojanOutbound>(oc.settings).servers.empty();
    } else if (name == "http") {
      oc.protocol = "http";
      HttpOutbound http;
      http.servers = read_servers(settings);
      Object headers(settings.get("headers"));
      for (auto& [key, v] : headers.items()) {
        if (auto text = v.as_string()) http.headers.emplace_back(key, *text);
      }
      ok = ok && !http.servers.empty();
      oc.settings = std::move(http);
    } else if (name == "shadowsocks") {
      oc.protocol = "shadowsocks";
      oc.settings = build_shadowsocks_outbound(settings);
      ok = ok && !std::get<ShadowsocksOutbound>(oc.settings).servers.empty();
    } else if (name == "vmess") {
      oc.protocol = "vmess";
      if (auto vmess = build_vmess_outbound(settings)) {
        oc.settings = std::move(*vmess);
      } else {
        ok = false;
      }
    } else {
      ok = false;
      settings.ignore_rest();
      if (protocol.json().is_string()) {
        bool known = false;
        for (auto k : kKnownOutbounds) known = known || name == k;
        protocol.error(show(protocol.json()) +
                       (known ? " not supported yet" : " is not a known protocol"));
      }
    }

    oc.stream = build_stream(out.get("streamSettings"), /*inbound=*/false);
    if (oc.protocol == "vless") {
      check_vision_stream(out.get("settings"), oc.stream, /*inbound=*/false);
    }

    Value send_through = out.get("sendThrough");
    if (auto s = send_through.as_string(); s && !s->empty()) {
      std::error_code ec;
      asio::ip::make_address(*s, ec);
      if (!ec) {
        oc.send_through = *s;
      } else if (s->find('/') != std::string::npos || iequals(*s, "origin") ||
                 iequals(*s, "srcip")) {
        send_through.error(fmt::format("{} not supported yet", show(send_through.json())));
      } else {
        send_through.error(fmt::format("{} is not an IP address", show(send_through.json())));
      }
    }

    Object proxy(out.get("proxySettings"));
    Value proxy_tag = proxy.get("tag");
    proxy.get("transportLayer").as_bool();
    if (auto t = proxy_tag.as_string(); t && !t->empty()) proxy_tag.not_supported();

    Object mux(out.get("mux"));
    Value mux_enabled = mux.get("enabled");
    oc.mux.enabled = mux_enabled.as_bool().value_or(false);
    // Xray: a concurrency of 0 means 8; a negative one keeps TCP off the mux.
    if (auto n = mux.get("concurrency").as_int(-1, 1024); n && *n != 0)
      oc.mux.concurrency = static_cast<int>(*n);
    oc.mux.xudp_concurrency =
        static_cast<int>(mux.get("xudpConcurrency").as_int(-1, 1024).value_or(0));
    Value udp443 = mux.get("xudpProxyUDP443");
    if (auto s = udp443.as_string(); s && !s->empty()) {
      if (*s == "allow") {
        oc.mux.udp443 = MuxConfig::Udp443::kAllow;
      } else if (*s == "skip") {
        oc.mux.udp443 = MuxConfig::Udp443::kSkip;
      } else if (*s != "reject") {
        udp443.error(fmt::format("{} is not one of reject, allow, skip", show(udp443.json())));
      }
    }
    // The protocols that carry a Mux.Cool connection to a server that serves it.
    if (oc.mux.enabled && oc.protocol != "vless" && oc.protocol != "vmess" &&
        oc.protocol != "trojan") {
      mux_enabled.error(fmt::format("mux on a {} outbound not supported yet", oc.protocol));
    }

    Value target = out.get("targetStrategy");
    if (auto ds = read_domain_strategy(target); ds && *ds != DomainStrategy::kAsIs) {
      target.error(fmt::format("{} not supported yet", show(target.json())));
    }

    if (ok) {
      config.outbounds.push_back(std::move(oc));
    } else if (item.diags().error_count() == errors_before) {
      // Never dropped without a word: a builder that refuses must have said why.
      item.error("this outbound cannot be built (no specific error was found)");
    }
  }
}

}  // namespace xsup::config
