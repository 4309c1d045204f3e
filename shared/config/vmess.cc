// VMess inbound `settings.clients` and outbound `settings.vnext` (spec/vmess.md; Xray's
// infra/conf/vmess.go). Only the AEAD form (alterId 0) exists; security none/zero need
// xsup's `legacySecurity` switch.

#include <fmt/format.h>

#include "shared/config/builders.h"
#include "shared/crypto/uuid.h"

namespace xsup::config {
namespace {

// alterId > 0 selected the MD5 header that Xray removed.
void check_alter_id(Object& object) {
  Value alter = object.get("alterId");
  if (auto n = alter.as_int(0, 65535); n && *n > 0) {
    alter.error("alterId > 0 (legacy MD5 auth) not supported");
  }
}

std::optional<VmessUser> read_user(Object& user, std::uint32_t default_level) {
  VmessUser out;
  out.level = default_level;
  auto id = read_id(user.get("id"));
  user.read("level", out.level);
  user.read("email", out.email);
  check_alter_id(user);
  if (!id) return std::nullopt;
  out.id = *id;
  return out;
}

}  // namespace

VmessInbound build_vmess_inbound(Object& settings) {
  VmessInbound out;
  std::uint32_t default_level = 0;
  Object defaults(settings.get("default"));
  defaults.read("level", default_level);
  check_alter_id(defaults);
  settings.read("legacySecurity", out.legacy_security);
  settings.get("disableInsecureEncryption").as_bool();  // v2ray's; insecure is off anyway
  Object detour(settings.get("detour"));
  if (Value to = detour.get("to"); to.as_string().value_or("") != "") to.not_supported();
  for (const auto& item : settings.get("clients").elements()) {
    Object client(item);
    if (!client.valid()) continue;
    client.get("security").as_string();  // a client-side choice; the server takes any
    if (auto user = read_user(client, default_level)) out.clients.push_back(std::move(*user));
  }
  return out;
}

namespace {

// One outbound user: an element of vnext[i].users, or the settings themselves in Xray's flat
// form. `settings` names the legacySecurity switch in messages.
std::optional<VmessOutboundUser> read_outbound_user(Object& user, const Object& settings,
                                                    bool legacy) {
  VmessOutboundUser entry;
  bool ok = true;
  Value security = user.get("security");
  if (auto name = security.as_string()) {
    std::string lower = *name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "aes-128-gcm") {
      entry.security = VmessSecurity::kAes128Gcm;
    } else if (lower == "chacha20-poly1305") {
      entry.security = VmessSecurity::kChacha20Poly1305;
    } else if (lower == "auto" || lower.empty()) {
      entry.security = VmessSecurity::kAuto;
    } else if (lower == "none" || lower == "zero") {
      entry.security = lower == "none" ? VmessSecurity::kNone : VmessSecurity::kZero;
      if (!legacy) {
        security.error(
            fmt::format("{} sends the body unencrypted and was removed from Xray; set "
                        "{}.legacySecurity to true to allow it",
                        show(security.json()), settings.path()));
        ok = false;
      }
    } else {
      security.warning(fmt::format("{} is not a VMess security; using \"auto\" as Xray does",
                                   show(security.json())));
    }
  }
  Value experiments = user.get("experiments");
  if (auto e = experiments.as_string(); e && !e->empty()) experiments.not_supported();
  auto parsed = read_user(user, 0);
  if (!parsed || !ok) return std::nullopt;
  entry.user = std::move(*parsed);
  return entry;
}

}  // namespace

std::optional<VmessOutbound> build_vmess_outbound(Object& settings) {
  VmessOutbound out;
  bool legacy = false;
  settings.read("legacySecurity", legacy);
  // Xray's flat form: address, port and the one user's fields in settings itself.
  if (settings.has("address")) {
    auto address = read_address_port(settings);
    auto user = read_outbound_user(settings, settings, legacy);
    if (!address || !user) return std::nullopt;
    out.vnext.push_back(VmessServer{*address, {std::move(*user)}});
    return out;
  }
  Value vnext = settings.get("vnext");
  if (vnext.absent()) {
    vnext.error("required");
    return std::nullopt;
  }
  bool ok = true;
  for (const auto& item : vnext.elements()) {
    Object server(item);
    if (!server.valid()) {
      ok = false;
      continue;
    }
    VmessServer s;
    if (auto address = read_address_port(server)) {
      s.address = *address;
    } else {
      ok = false;
    }
    Value users = server.get("users");
    for (const auto& u : users.elements()) {
      Object user(u);
      auto entry = user.valid() ? read_outbound_user(user, settings, legacy) : std::nullopt;
      if (!entry) {
        ok = false;
        continue;
      }
      s.users.push_back(std::move(*entry));
    }
    if (users.absent()) {
      users.error("required");
      ok = false;
    } else if (users.is_array() && users.json().empty()) {
      users.error("at least one user is required");
      ok = false;
    }
    out.vnext.push_back(std::move(s));
  }
  if (vnext.is_array() && vnext.json().empty()) {
    vnext.error("at least one server is required");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace xsup::config
