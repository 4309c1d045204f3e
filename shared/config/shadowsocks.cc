// The shadowsocks inbound and outbound settings (spec/shadowsocks.md, Xray's
// infra/conf/shadowsocks.go): AEAD methods run; Shadowsocks 2022 and the stream ciphers
// are recognised and refused.

#include <fmt/format.h>

#include <array>

#include "shared/config/builders.h"

namespace xsup::config {
namespace {

// Accepted spellings -> the canonical (shadowsocks-libev) name.
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kMethods{{
    {"aes-128-gcm", "aes-128-gcm"},
    {"aes-256-gcm", "aes-256-gcm"},
    {"chacha20-poly1305", "chacha20-ietf-poly1305"},
    {"chacha20-ietf-poly1305", "chacha20-ietf-poly1305"},
    {"xchacha20-poly1305", "xchacha20-ietf-poly1305"},
    {"xchacha20-ietf-poly1305", "xchacha20-ietf-poly1305"},
}};

// Known to Xray, v2ray or shadowsocks-libev, not run by xsup.
constexpr std::array<std::string_view, 9> kRefused{"2022-blake3-aes-128-gcm",
                                                   "2022-blake3-aes-256-gcm",
                                                   "2022-blake3-chacha20-poly1305",
                                                   "none",
                                                   "plain",
                                                   "aes-192-gcm",
                                                   "aes-128-cfb",
                                                   "aes-256-cfb",
                                                   "chacha20-ietf"};

// "" after an error; `fallback` when absent.
std::string read_method(const Value& value, const std::string& fallback) {
  auto text = value.as_string();
  if (!text || text->empty()) {
    if (value.absent() && !fallback.empty()) return fallback;
    if (value.absent() || (text && text->empty())) value.error("required");
    return {};
  }
  std::string name = *text;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [alias, canonical] : kMethods) {
    if (name == alias) return std::string(canonical);
  }
  for (auto refused : kRefused) {
    if (name == refused) {
      value.error(fmt::format("{} not supported yet", show(value.json())));
      return {};
    }
  }
  value.error(fmt::format(
      "{} is not a Shadowsocks method (aes-128-gcm, aes-256-gcm, chacha20-ietf-poly1305, "
      "xchacha20-ietf-poly1305)",
      show(value.json())));
  return {};
}

// password, method, email, level of one user-shaped object; nullopt after an error.
std::optional<ShadowsocksUser> read_user(Object& object, const std::string& default_method,
                                         std::uint32_t default_level) {
  ShadowsocksUser user;
  user.level = default_level;
  user.method = read_method(object.get("method"), default_method);
  Value password = object.get("password");
  object.read("password", user.password);
  if (password.absent() || (password.json().is_string() && user.password.empty())) {
    password.error("required");
    return std::nullopt;
  }
  object.read("email", user.email);
  object.read("level", user.level);
  if (user.method.empty()) return std::nullopt;
  return user;
}

}  // namespace

ShadowsocksInbound build_shadowsocks_inbound(Object& settings) {
  ShadowsocksInbound out;
  Value network = settings.get("network");
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
  settings.get("ivCheck").as_bool();  // v2ray's replay check: xsup always filters salts
  std::uint32_t level = 0;
  settings.read("level", level);
  std::string method;
  Value method_value = settings.get("method");
  Value clients = settings.get("clients");
  if (clients.present() && !clients.empty()) {
    if (method_value.present()) method = read_method(method_value, "");
    for (const auto& item : clients.elements()) {
      Object client(item);
      if (!client.valid()) continue;
      if (auto user = read_user(client, method, level)) out.users.push_back(std::move(*user));
    }
    // The top-level password of a multi-user inbound is the 2022 iPSK: unused here.
    settings.get("password").as_string();
    settings.get("email").as_string();
  } else if (auto user = read_user(settings, "", level)) {
    out.users.push_back(std::move(*user));
  }
  return out;
}

ShadowsocksOutbound build_shadowsocks_outbound(Object& settings) {
  ShadowsocksOutbound out;
  Value servers = settings.get("servers");
  if (servers.absent() || (servers.is_array() && servers.json().empty())) {
    servers.error("at least one server is required");
    return out;
  }
  for (const auto& item : servers.elements()) {
    Object server(item);
    if (!server.valid()) continue;
    ShadowsocksServer s;
    bool ok = true;
    Value address = server.get("address");
    if (auto a = address.as_string(); a && !a->empty()) {
      s.address.address = net::Address::parse(*a);
    } else {
      address.error("required");
      ok = false;
    }
    Value port = server.get("port");
    if (auto p = port.as_port(1)) {
      s.address.port = *p;
    } else {
      if (port.absent()) port.error("required");
      ok = false;
    }
    Value uot = server.get("uot");
    if (uot.as_bool().value_or(false)) uot.not_supported();
    server.get("UoTVersion").as_int(0, 2);
    auto user = read_user(server, "", 0);
    if (ok && user) {
      s.user = std::move(*user);
      out.servers.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace xsup::config
