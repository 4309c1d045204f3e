// inbounds[] (spec/config.md §1, seeds/socks-http.md): socks/mixed, http,
// dokodemo-door/tunnel, vmess, shadowsocks, vless and trojan run today; other Xray protocols are
// recognised and rejected.

#include <fmt/format.h>

#include <array>
#include <asio/ip/address.hpp>
#include <set>

#include "shared/config/builders.h"

namespace xsup::config {
namespace {

// Xray protocols whose inbound side has not landed in xsup.
constexpr std::array<std::string_view, 6> kKnownInbounds{"tun",       "wireguard", "hysteria",
                                                         "hysteria2", "loopback",  "dns"};

std::vector<Account> read_accounts(const Value& value, std::uint32_t level) {
  std::vector<Account> out;
  for (const auto& item : value.elements()) {
    Object entry(item);
    Account account;
    Value user = entry.get("user");
    if (!entry.read("user", account.user) && user.absent()) user.error("required");
    entry.read("pass", account.pass);
    account.level = level;
    account.email = account.user;
    out.push_back(std::move(account));
  }
  return out;
}

bool is_ip_literal(const std::string& text) {
  std::error_code ec;
  asio::ip::make_address(text, ec);
  return !ec;
}

SocksInbound build_socks(Object& settings) {
  SocksInbound out;
  settings.read("userLevel", out.user_level);
  Value auth = settings.get("auth");
  if (auto a = auth.as_string()) {
    if (*a == "password") {
      out.auth_password = true;
    } else if (*a != "noauth" && !a->empty()) {
      auth.error(
          fmt::format("{} is not a socks auth method (noauth, password)", show(auth.json())));
    }
  }
  Value accounts = settings.get("accounts");
  if (accounts.absent()) accounts = settings.get("users");
  out.accounts = read_accounts(accounts, out.user_level);
  if (out.auth_password && out.accounts.empty()) {
    auth.warning("\"password\" with no accounts: only users of the store can connect");
  }
  settings.read("udp", out.udp);
  Value ip = settings.get("ip");
  if (settings.read("ip", out.ip) && !out.ip.empty() && !is_ip_literal(out.ip)) {
    ip.error(fmt::format("{} is not an IP address", show(ip.json())));
  }
  return out;
}

HttpInbound build_http(Object& settings) {
  HttpInbound out;
  settings.read("userLevel", out.user_level);
  Value accounts = settings.get("accounts");
  if (accounts.absent()) accounts = settings.get("users");
  out.accounts = read_accounts(accounts, out.user_level);
  settings.read("allowTransparent", out.allow_transparent);
  if (Value timeout = settings.get("timeout"); timeout.present()) {
    timeout.as_uint32();
    timeout.warning("deprecated, use policy levels (connIdle); ignored");
  }
  return out;
}

DokodemoInbound build_dokodemo(Object& settings, bool tunnel) {
  DokodemoInbound out;
  Value address = settings.get("address");
  Value port = settings.get("port");
  if (tunnel) {
    // tunnel spells them rewriteAddress / rewritePort; either spelling works there.
    if (Value a = settings.get("rewriteAddress"); a.present()) address = a;
    if (Value p = settings.get("rewritePort"); p.present()) port = p;
    if (Value map = settings.get("portMap"); !map.empty()) map.not_supported();
  }
  if (auto a = address.as_string(); a && !a->empty()) out.address = net::Address::parse(*a);
  if (auto p = port.as_port(0)) out.port = *p;
  Value network = settings.get("network");
  if (tunnel) {
    if (Value allowed = settings.get("allowedNetwork"); allowed.present()) network = allowed;
  }
  if (auto list = network.as_string_list()) {
    out.tcp = false;
    for (const auto& n : *list) {
      if (iequals(n, "tcp")) {
        out.tcp = true;
      } else if (iequals(n, "udp")) {
        out.udp = true;
      } else {
        network.error(fmt::format("{} is not a network (tcp, udp)", show(n)));
      }
    }
    if (list->empty()) out.tcp = true;
  }
  settings.read("followRedirect", out.follow_redirect);
  settings.read("userLevel", out.user_level);
  if (Value timeout = settings.get("timeout"); timeout.present()) {
    timeout.as_uint32();
    timeout.warning("deprecated, use policy levels (connIdle); ignored");
  }
  return out;
}

}  // namespace

SniffingConfig build_sniffing(const Value& value) {
  SniffingConfig out;
  Object sniffing(value);
  sniffing.read("enabled", out.enabled);
  Value dest = sniffing.get("destOverride");
  if (auto list = dest.as_string_list()) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      std::string name = (*list)[i];
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      Value item(dest.json().is_array() ? &dest.json()[i] : &dest.json(),
                 dest.json().is_array() ? fmt::format("{}[{}]", dest.path(), i) : dest.path(),
                 &dest.diags());
      std::string normalised;
      if (name == "http") {
        normalised = "http";
      } else if (name == "tls" || name == "https" || name == "ssl") {
        normalised = "tls";
      } else if (name == "quic") {
        normalised = "quic";
        item.error("\"quic\" not supported yet");
      } else if (name == "fakedns" || name == "fakedns+others") {
        normalised = "fakedns";
        item.error(fmt::format("{} not supported yet", show((*list)[i])));
      } else {
        item.error(fmt::format("{} is not a sniffer (http, tls, quic, fakedns)", show((*list)[i])));
        continue;
      }
      bool seen = false;
      for (const auto& d : out.dest_override) seen = seen || d == normalised;
      if (!seen) out.dest_override.push_back(normalised);
    }
  }
  out.domains_excluded = read_entries(sniffing.get("domainsExcluded"), check_domain_entry);
  out.ips_excluded = read_entries(sniffing.get("ipsExcluded"), check_ip_entry);
  sniffing.read("metadataOnly", out.metadata_only);
  sniffing.read("routeOnly", out.route_only);
  return out;
}

void build_inbounds(const Value& value, Config& config) {
  std::set<std::string> tags;
  for (const auto& item : value.elements()) {
    Object in(item);
    if (!in.valid()) continue;
    InboundConfig ic;
    ic.path = item.path();
    bool ok = true;
    const std::size_t errors_before = item.diags().error_count();

    Value tag = in.get("tag");
    if (in.read("tag", ic.tag) && !ic.tag.empty() && !tags.insert(ic.tag).second) {
      tag.error(fmt::format("duplicate tag {}", show(ic.tag)));
      ok = false;
    }

    Value protocol = in.get("protocol");
    std::string name = protocol.as_string().value_or("");
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool supported = false;
    if (protocol.absent()) {
      protocol.error("required");
    } else if (name == "socks" || name == "mixed") {
      ic.protocol = "socks";
      supported = true;
    } else if (name == "http") {
      ic.protocol = "http";
      supported = true;
    } else if (name == "dokodemo-door" || name == "tunnel") {
      ic.protocol = "dokodemo-door";
      supported = true;
    } else if (name == "shadowsocks") {
      ic.protocol = "shadowsocks";
      supported = true;
    } else if (name == "vless" || name == "trojan") {
      ic.protocol = name;
      supported = true;
    } else if (name == "vmess") {
      ic.protocol = "vmess";
      supported = true;
    } else if (protocol.json().is_string()) {
      bool known = false;
      for (auto k : kKnownInbounds) known = known || name == k;
      protocol.error(show(protocol.json()) +
                     (known ? " not supported yet" : " is not a known protocol"));
    }
    ok = ok && supported;

    Value listen = in.get("listen");
    bool unix_listen = false;
    if (auto l = listen.as_string()) {
      if (l->empty()) {
        ic.listen.clear();  // all addresses
      } else if (iequals(*l, "localhost")) {
        ic.listen = "127.0.0.1";
      } else if ((*l)[0] == '/' || (*l)[0] == '@') {
        unix_listen = true;
        listen.error("unix domain sockets not supported yet");
      } else if (is_ip_literal(*l)) {
        ic.listen = *l;
      } else {
        listen.error(fmt::format("{} is not an IP address", show(listen.json())));
      }
    }

    Value port = in.get("port");
    if (port.absent()) {
      if (!unix_listen && name != "tun") port.error("required");
    } else if (auto ports = port.as_ports(1)) {
      ic.ports = *ports;
    }

    Object settings(in.get("settings"));
    if (supported && ic.protocol == "socks") {
      ic.settings = build_socks(settings);
    } else if (supported && ic.protocol == "http") {
      ic.settings = build_http(settings);
    } else if (supported && ic.protocol == "shadowsocks") {
      ic.settings = build_shadowsocks_inbound(settings);
      ok = ok && !std::get<ShadowsocksInbound>(ic.settings).users.empty();
    } else if (supported && ic.protocol == "vless") {
      ic.settings = build_vless_inbound(settings);
    } else if (supported && ic.protocol == "trojan") {
      ic.settings = build_trojan_inbound(settings);
    } else if (supported && ic.protocol == "vmess") {
      ic.settings = build_vmess_inbound(settings);
    } else if (supported) {
      ic.settings = build_dokodemo(settings, name == "tunnel");
    } else {
      settings.ignore_rest();  // another protocol's settings: nothing to say about them
    }

    ic.stream = build_stream(in.get("streamSettings"), /*inbound=*/true);
    if (supported && ic.protocol == "vless") {
      check_vision_stream(in.get("settings"), ic.stream, /*inbound=*/true);
    }
    if (auto* doko = std::get_if<DokodemoInbound>(&ic.settings);
        supported && doko != nullptr && doko->follow_redirect &&
        ic.stream.sockopt.tproxy == Tproxy::kOff) {
      // spec/sockopt.md §1: followRedirect implies tproxy "redirect" when it is off.
      ic.stream.sockopt.tproxy = Tproxy::kRedirect;
    }
    ic.sniffing = build_sniffing(in.get("sniffing"));

    Object allocate(in.get("allocate"));
    Value strategy = allocate.get("strategy");
    if (auto s = strategy.as_string(); s && !s->empty() && !iequals(*s, "always")) {
      strategy.error(fmt::format("{} not supported yet", show(strategy.json())));
    }
    allocate.get("refresh").as_uint32();
    allocate.get("concurrency").as_uint32();

    if (ok) {
      config.inbounds.push_back(std::move(ic));
    } else if (item.diags().error_count() == errors_before) {
      // Never dropped without a word: a builder that refuses must have said why.
      item.error("this inbound cannot be built (no specific error was found)");
    }
  }
}

}  // namespace xsup::config
