// The shadowsocks inbound and outbound settings (spec/shadowsocks.md, Xray's
// infra/conf/shadowsocks.go): AEAD methods run; Shadowsocks 2022 and the stream ciphers
// are recognised and refused.

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <cctype>

#include "shared/base/base64.h"
#include "shared/config/builders.h"

namespace xsup::config {
namespace {

// Accepted spellings -> the canonical (shadowsocks-libev) name.
constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kMethods{{
    {"2022-blake3-aes-128-gcm", "2022-blake3-aes-128-gcm"},
    {"2022-blake3-aes-256-gcm", "2022-blake3-aes-256-gcm"},
    {"2022-blake3-chacha20-poly1305", "2022-blake3-chacha20-poly1305"},
    {"aes-128-gcm", "aes-128-gcm"},
    {"aes-256-gcm", "aes-256-gcm"},
    {"chacha20-poly1305", "chacha20-ietf-poly1305"},
    {"chacha20-ietf-poly1305", "chacha20-ietf-poly1305"},
    {"xchacha20-poly1305", "xchacha20-ietf-poly1305"},
    {"xchacha20-ietf-poly1305", "xchacha20-ietf-poly1305"},
}};

// Known to Xray, v2ray or shadowsocks-libev, not run by xsup.
constexpr std::array<std::string_view, 6> kRefused{"none",        "plain",       "aes-192-gcm",
                                                   "aes-128-cfb", "aes-256-cfb", "chacha20-ietf"};

bool is_2022(const std::string& method) { return method.rfind("2022-", 0) == 0; }
std::size_t key_size_2022(const std::string& method) {
  return method == "2022-blake3-aes-128-gcm" ? 16 : 32;
}

// spec/shadowsocks.md B.1: base64 PSKs separated by colons; a longer key becomes
// SHA256(key)[0:size] (sing), a shorter one is an error.
std::optional<std::vector<std::string>> read_psks(const Value& where, const std::string& text,
                                                  std::size_t size) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = text.find(':', start);
    const std::string_view part = std::string_view(text).substr(
        start, colon == std::string::npos ? std::string::npos : colon - start);
    auto key = base::base64_decode(part);
    if (!key || key->empty()) {
      where.error("is not a base64 key (2022 methods take base64 PSKs, iPSK:uPSK for EIH)");
      return std::nullopt;
    }
    if (key->size() < size) {
      where.error(
          fmt::format("a {}-byte key is shorter than the method's {} bytes", key->size(), size));
      return std::nullopt;
    }
    if (key->size() > size) {
      unsigned char digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(key->data()), key->size(), digest);
      key->assign(reinterpret_cast<const char*>(digest), size);
    }
    out.push_back(std::move(*key));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

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
      "xchacha20-ietf-poly1305, 2022-blake3-aes-128-gcm, 2022-blake3-aes-256-gcm, "
      "2022-blake3-chacha20-poly1305)",
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
  if (is_2022(user.method)) {
    auto psks = read_psks(password, user.password, key_size_2022(user.method));
    if (!psks) return std::nullopt;
    if (psks->size() > 1 && user.method == "2022-blake3-chacha20-poly1305") {
      password.error("2022-blake3-chacha20-poly1305 takes one PSK (no identity headers)");
      return std::nullopt;
    }
    user.psks = std::move(*psks);
  }
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
    settings.get("email").as_string();
    Value password = settings.get("password");
    if (is_2022(method)) {
      // B.5/B.6: the top-level password is the iPSK; each client's is its uPSK.
      if (method == "2022-blake3-chacha20-poly1305") {
        clients.error("2022-blake3-chacha20-poly1305 has no multi-user form (EIH is AES only)");
        out.users.clear();
      }
      std::string ipsk;
      if (!settings.read("password", ipsk) || ipsk.empty()) {
        password.error("required: the iPSK of a 2022 multi-user inbound");
        out.users.clear();
      } else if (auto keys = read_psks(password, ipsk, key_size_2022(method))) {
        if (keys->size() != 1) password.error("one iPSK expected");
        out.identity_psk = keys->front();
      } else {
        out.users.clear();
      }
      for (std::size_t i = 0; i < out.users.size(); ++i) {
        if (out.users[i].method != method || out.users[i].psks.size() != 1) {
          clients.error(
              fmt::format("client {}: 2022 clients take the inbound's method and one uPSK", i));
          out.users.clear();
          break;
        }
      }
    } else {
      settings.get("password").as_string();
      for (const auto& user : out.users) {
        if (is_2022(user.method)) {
          clients.error("2022 clients need a 2022 method on the inbound (its iPSK in password)");
          out.users.clear();
          break;
        }
      }
    }
  } else if (auto user = read_user(settings, "", level)) {
    if (user->psks.size() > 1) {
      settings.get("password").error("a single-user server takes one PSK");
    } else {
      out.users.push_back(std::move(*user));
    }
  }
  out.method = !method.empty() || out.users.empty() ? method : out.users.front().method;
  if (is_2022(out.method)) out.psk_size = key_size_2022(out.method);
  return out;
}

namespace {

// One server: an element of servers, or the settings themselves in Xray's flat form.
std::optional<ShadowsocksServer> read_server(Object& server) {
  auto address = read_address_port(server);
  Value uot = server.get("uot");
  if (uot.as_bool().value_or(false)) uot.not_supported();
  server.get("UoTVersion").as_int(0, 2);
  auto user = read_user(server, "", 0);
  if (!address || !user) return std::nullopt;
  return ShadowsocksServer{*address, std::move(*user)};
}

}  // namespace

ShadowsocksOutbound build_shadowsocks_outbound(Object& settings) {
  ShadowsocksOutbound out;
  if (settings.has("address")) {
    if (auto server = read_server(settings)) out.servers.push_back(std::move(*server));
    return out;
  }
  Value servers = settings.get("servers");
  if (servers.absent() || (servers.is_array() && servers.json().empty())) {
    servers.error("at least one server is required");
    return out;
  }
  for (const auto& item : servers.elements()) {
    Object server(item);
    if (!server.valid()) continue;
    if (auto s = read_server(server)) out.servers.push_back(std::move(*s));
  }
  return out;
}

}  // namespace xsup::config
