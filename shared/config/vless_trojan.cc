// settings of the VLESS and Trojan inbounds and outbounds (spec/vless.md, spec/trojan.md),
// and the fallbacks both inbounds share (spec/vless.md §9).

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <tuple>

#include "shared/config/builders.h"
#include "shared/crypto/uuid.h"

namespace xsup::config {
namespace {

// spec/vless.md §2: a non-UUID id of 1..30 bytes becomes SHA1(16 zero bytes ‖ id), cut to
// 16 bytes, stamped as a version 5 UUID.
std::optional<std::array<std::uint8_t, 16>> uuid_from_string(std::string_view text) {
  std::array<std::uint8_t, 16 + 30> input{};
  std::copy(text.begin(), text.end(), input.begin() + 16);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(input.data(), 16 + text.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    return std::nullopt;
  }
  std::array<std::uint8_t, 16> out{};
  std::copy_n(digest, out.size(), out.begin());
  out[6] = static_cast<std::uint8_t>((out[6] & 0x0F) | 0x50);
  out[8] = static_cast<std::uint8_t>((out[8] & 0x3F) | 0x80);
  return out;
}

bool is_vision(std::string_view flow) {
  return flow == "xtls-rprx-vision" || flow == "xtls-rprx-vision-udp443";
}

// spec/vless.md §3.3, §5: VLESS runs Vision (and its -udp443 variant); Trojan has no flow.
void read_flow(Object& object, std::string& out, bool vless) {
  Value flow = object.get("flow");
  auto text = flow.as_string();
  if (!text || text->empty()) return;
  if (!is_vision(*text)) {
    flow.error(fmt::format("{} is not a flow (\"\", xtls-rprx-vision, xtls-rprx-vision-udp443)",
                           show(flow.json())));
  } else if (!vless) {
    flow.error(fmt::format("{} is for VLESS only", show(flow.json())));
  }
  out = *text;
}

// One user: an element of clients or vnext[i].users, or (outbound) the settings themselves
// in Xray's flat form.
std::optional<VlessUser> read_vless_user(Object& user, bool outbound) {
  VlessUser out;
  auto id = read_id(user.get("id"));
  user.read("email", out.email);
  user.read("level", out.level);
  read_flow(user, out.flow, /*vless=*/true);
  if (outbound) {
    Value encryption = user.get("encryption");
    if (auto e = encryption.as_string(); e && *e != "none") {
      encryption.error(
          fmt::format("{} not supported yet (only \"none\")", show(encryption.json())));
    } else if (encryption.absent()) {
      encryption.error("required (\"none\")");
    }
  } else if (Value reverse = user.get("reverse"); reverse.present()) {
    reverse.not_supported();  // spec/vless.md §3.2: the Rvs command
  }
  if (!id) return std::nullopt;
  out.id = *id;
  return out;
}

// spec/vless.md §9.2: dest is a port, "host:port", a Unix socket path, "@name" or "@@name".
bool read_fallback_dest(const Value& dest, Fallback& out) {
  std::string text;
  if (dest.present() && dest.json().is_number_unsigned()) {
    text = std::to_string(dest.json().get<std::uint64_t>());
  } else if (auto s = dest.as_string()) {
    text = *s;
  } else {
    if (dest.absent()) dest.error("required");
    return false;
  }
  if (text.empty()) {
    dest.error("must not be empty");
    return false;
  }
  if (text == "serve-ws-none") {
    dest.error("\"serve-ws-none\" not supported yet");
    return false;
  }
  if (text[0] == '/' || text[0] == '@') {
    out.kind = Fallback::Kind::kUnix;
    if (text.rfind("@@", 0) == 0) {
      // A Linux abstract socket padded with NULs to the full sun_path (108 bytes).
      out.unix_path = std::string(1, '\0') + text.substr(2);
      if (out.unix_path.size() > 108) {
        dest.error("abstract socket name is over 107 bytes");
        return false;
      }
      out.unix_path.resize(108, '\0');
    } else if (text[0] == '@') {
      out.unix_path = std::string(1, '\0') + text.substr(1);
    } else {
      out.unix_path = text;
    }
    if (out.unix_path.size() > 108) {
      dest.error("socket path is over 108 bytes");
      return false;
    }
    return true;
  }
  out.kind = Fallback::Kind::kTcp;
  std::uint16_t port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec == std::errc() && end == text.data() + text.size() && port != 0) {
    // Xray dials "localhost:port"; xsup takes the IPv4 loopback (no resolver on that path).
    out.tcp = net::Destination{net::Network::kTcp,
                               net::Address(asio::ip::make_address("127.0.0.1")), port};
    return true;
  }
  if (auto hp = net::parse_host_port(text, net::Network::kTcp); hp && hp->port != 0) {
    if (hp->address.is_domain() && hp->address.domain() == "localhost") {
      hp->address = net::Address(asio::ip::make_address("127.0.0.1"));
    }
    out.tcp = *hp;
    return true;
  }
  dest.error(fmt::format("{} is not a port, host:port or a Unix socket path", show(dest.json())));
  return false;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// One Trojan server: an element of servers, or the settings themselves (flat form).
std::optional<TrojanServer> read_trojan_server(Object& server) {
  auto address = read_address_port(server);
  TrojanServer s;
  Value password = server.get("password");
  if (!server.read("password", s.user.password) || s.user.password.empty()) {
    password.error(password.absent() ? "required" : "must not be empty");
    return std::nullopt;
  }
  server.read("email", s.user.email);
  server.read("level", s.user.level);
  std::string flow;
  read_flow(server, flow, /*vless=*/false);
  if (!address) return std::nullopt;
  s.address = *address;
  return s;
}

}  // namespace

std::optional<std::array<std::uint8_t, 16>> read_id(const Value& value) {
  auto text = value.as_string();
  if (!text) {
    if (value.absent()) value.error("required");
    return std::nullopt;
  }
  if (text->size() >= 32 && text->size() <= 36) {
    if (auto id = crypto::parse_uuid(*text)) return *id;
    value.error(fmt::format("{} is not a UUID", show(value.json())));
    return std::nullopt;
  }
  if (!text->empty() && text->size() <= 30) return uuid_from_string(*text);
  value.error(fmt::format("{} is not a UUID nor a string of 1 to 30 bytes", show(value.json())));
  return std::nullopt;
}

std::optional<net::Destination> read_address_port(Object& object) {
  net::Destination out;
  bool ok = true;
  Value address = object.get("address");
  if (auto a = address.as_string(); a && !a->empty()) {
    out.address = net::Address::parse(*a);
  } else {
    address.error(address.absent() ? "required" : "must not be empty");
    ok = false;
  }
  Value port = object.get("port");
  if (auto p = port.as_port(1)) {
    out.port = *p;
  } else {
    if (port.absent()) port.error("required");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::vector<Fallback> build_fallbacks(const Value& value) {
  std::vector<Fallback> out;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (const auto& item : value.elements()) {
    Object entry(item);
    if (!entry.valid()) continue;
    Fallback fb;
    fb.path_in_config = item.path();
    entry.read("name", fb.name);
    entry.read("alpn", fb.alpn);
    fb.name = lower(fb.name);
    fb.alpn = lower(fb.alpn);
    Value path = entry.get("path");
    bool ok = true;
    if (entry.read("path", fb.path) && !fb.path.empty() && fb.path[0] != '/') {
      path.error(fmt::format("{} must be empty or start with '/'", show(path.json())));
      ok = false;
    }
    Value type = entry.get("type");
    if (auto t = type.as_string();
        t && !t->empty() && *t != "tcp" && *t != "unix" && *t != "serve") {
      type.error(fmt::format("{} is not a fallback type (tcp, unix)", show(type.json())));
    }
    ok = read_fallback_dest(entry.get("dest"), fb) && ok;
    Value xver = entry.get("xver");
    if (auto x = xver.as_int(0, 2)) {
      fb.xver = static_cast<int>(*x);
    } else if (xver.present()) {
      ok = false;
    }
    if (ok && !seen.insert({fb.name, fb.alpn, fb.path}).second) {
      item.error("another fallback has the same name, alpn and path");
      ok = false;
    }
    if (ok) out.push_back(std::move(fb));
  }
  return out;
}

VlessInbound build_vless_inbound(Object& settings) {
  VlessInbound out;
  Value decryption = settings.get("decryption");
  if (auto d = decryption.as_string(); d && *d != "none") {
    decryption.error(fmt::format("{} not supported yet (only \"none\")", show(decryption.json())));
  } else if (decryption.absent()) {
    decryption.error("required (\"none\")");
  }
  std::set<std::array<std::uint8_t, 16>> ids;
  for (const auto& item : settings.get("clients").elements()) {
    Object client(item);
    if (!client.valid()) continue;
    auto user = read_vless_user(client, /*outbound=*/false);
    if (!user) continue;
    auto key = user->id;
    key[6] = key[7] = 0;  // spec/vless.md §2: bytes 6-7 do not take part in matching
    if (!ids.insert(key).second) {
      item.error("another client has the same id (bytes 6-7 are ignored)");
      continue;
    }
    out.clients.push_back(std::move(*user));
  }
  out.fallbacks = build_fallbacks(settings.get("fallbacks"));
  return out;
}

TrojanInbound build_trojan_inbound(Object& settings) {
  TrojanInbound out;
  std::set<std::string> passwords;
  for (const auto& item : settings.get("clients").elements()) {
    Object client(item);
    if (!client.valid()) continue;
    TrojanUser user;
    Value password = client.get("password");
    if (!client.read("password", user.password) || user.password.empty()) {
      password.error(password.absent() ? "required" : "must not be empty");
      continue;
    }
    client.read("email", user.email);
    client.read("level", user.level);
    std::string flow;
    read_flow(client, flow, /*vless=*/false);
    if (!passwords.insert(user.password).second) {
      password.error("another client has the same password");
      continue;
    }
    out.clients.push_back(std::move(user));
  }
  out.fallbacks = build_fallbacks(settings.get("fallbacks"));
  return out;
}

VlessOutbound build_vless_outbound(Object& settings) {
  VlessOutbound out;
  // Xray's flat form: address, port and the one user's fields in settings itself.
  if (settings.has("address")) {
    auto address = read_address_port(settings);
    auto user = read_vless_user(settings, /*outbound=*/true);
    if (address && user) out.vnext.push_back(VlessServer{*address, {std::move(*user)}});
    return out;
  }
  Value vnext = settings.get("vnext");
  if (vnext.absent()) {
    vnext.error("required");
    return out;
  }
  for (const auto& item : vnext.elements()) {
    Object server(item);
    if (!server.valid()) continue;
    auto address = read_address_port(server);
    VlessServer s;
    for (const auto& u : server.get("users").elements()) {
      Object entry(u);
      if (!entry.valid()) continue;
      if (auto user = read_vless_user(entry, /*outbound=*/true))
        s.users.push_back(std::move(*user));
    }
    if (s.users.empty()) {
      Value users = server.get("users");
      if (users.absent() || (users.is_array() && users.json().empty())) {
        users.error("at least one user is required");
      }
      continue;
    }
    if (!address) continue;
    s.address = *address;
    out.vnext.push_back(std::move(s));
  }
  if (vnext.is_array() && vnext.json().empty()) vnext.error("at least one server is required");
  return out;
}

TrojanOutbound build_trojan_outbound(Object& settings) {
  TrojanOutbound out;
  // Xray's flat form: the one server's fields in settings itself.
  if (settings.has("address")) {
    if (auto server = read_trojan_server(settings)) out.servers.push_back(std::move(*server));
    return out;
  }
  Value servers = settings.get("servers");
  if (servers.absent()) servers.error("required");
  for (const auto& item : servers.elements()) {
    Object server(item);
    if (!server.valid()) continue;
    if (auto s = read_trojan_server(server)) out.servers.push_back(std::move(*s));
  }
  if (servers.is_array() && servers.json().empty())
    servers.error("at least one server is required");
  return out;
}

void check_vision_stream(const Value& settings, const StreamSettings& stream, bool inbound) {
  // spec/vision.md §1, §7: Vision leaves the outer TLS for the bare TCP socket under it, so
  // it needs TLS (REALITY is refused on its own) directly over raw TCP.
  const bool fits =
      stream.network == TransportKind::kRaw &&
      (stream.security == SecurityKind::kTls || stream.security == SecurityKind::kReality);
  if (fits || settings.absent() || !settings.json().is_object()) return;
  const auto check = [&](const nlohmann::json& user, const std::string& path) {
    if (!user.is_object()) return;
    auto it = user.find("flow");
    if (it == user.end() || !it->is_string() || !is_vision(it->get<std::string>())) return;
    settings.diags().error(
        join_path(settings.path(), path.empty() ? "flow" : path + ".flow"),
        fmt::format("\"{}\" needs streamSettings network \"raw\" (tcp) with security \"tls\"",
                    it->get<std::string>()));
  };
  const nlohmann::json& json = settings.json();
  if (inbound) {
    auto clients = json.find("clients");
    if (clients == json.end() || !clients->is_array()) return;
    for (std::size_t i = 0; i < clients->size(); ++i) {
      check((*clients)[i], fmt::format("clients[{}]", i));
    }
    return;
  }
  auto vnext = json.find("vnext");
  if (vnext == json.end()) {
    check(json, "");  // Xray's flat form: the user's fields in settings itself
    return;
  }
  if (!vnext->is_array()) return;
  for (std::size_t i = 0; i < vnext->size(); ++i) {
    const auto& server = (*vnext)[i];
    if (!server.is_object()) continue;
    auto users = server.find("users");
    if (users == server.end() || !users->is_array()) continue;
    for (std::size_t j = 0; j < users->size(); ++j) {
      check((*users)[j], fmt::format("vnext[{}].users[{}]", i, j));
    }
  }
}

}  // namespace xsup::config
