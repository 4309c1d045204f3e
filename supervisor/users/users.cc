#include "supervisor/users/users.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <set>

#include "shared/base/base64.h"
#include "shared/crypto/uuid.h"
#include "supervisor/users/links.h"

namespace xsup::supervisor::users {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxEmail = 128;
constexpr std::int64_t kMaxIpLimit = 10000;
constexpr std::size_t kPasswordLength = 24;

bool protocol_wants_uuid(std::string_view p) { return p == "vless" || p == "vmess"; }
bool protocol_wants_password(std::string_view p) {
  return p == "trojan" || p == "shadowsocks" || p == "socks" || p == "http";
}

std::string random_password() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";  // no look-alikes
  std::uint8_t bytes[kPasswordLength];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw UserError("the random generator failed");
  std::string out;
  for (std::uint8_t b : bytes) out += kAlphabet[b % (sizeof kAlphabet - 1)];
  return out;
}

// A Shadowsocks 2022 key of `size` random bytes, in base64 as configs and links carry it.
std::string random_key(std::size_t size) {
  std::string key(size, '\0');
  if (RAND_bytes(reinterpret_cast<std::uint8_t*>(key.data()), static_cast<int>(size)) != 1) {
    throw UserError("the random generator failed");
  }
  return base::base64_encode(key);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::uint64_t> parse_bytes(std::string_view text) {
  std::string t = lower(trim(text));
  if (t.empty() || t == "0" || t == "none" || t == "unlimited") return 0;
  std::size_t split = 0;
  while (split < t.size() &&
         (std::isdigit(static_cast<unsigned char>(t[split])) || t[split] == '.')) {
    ++split;
  }
  std::string number = t.substr(0, split);
  std::string unit = trim(std::string_view(t).substr(split));
  if (number.empty() || std::count(number.begin(), number.end(), '.') > 1) return std::nullopt;
  static const std::map<std::string, double> kUnits = {{"", 1},
                                                       {"b", 1},
                                                       {"kb", 1e3},
                                                       {"mb", 1e6},
                                                       {"gb", 1e9},
                                                       {"tb", 1e12},
                                                       {"k", 1e3},
                                                       {"m", 1e6},
                                                       {"g", 1e9},
                                                       {"t", 1e12},
                                                       {"kib", 1024.0},
                                                       {"mib", 1048576.0},
                                                       {"gib", 1073741824.0},
                                                       {"tib", 1099511627776.0}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  double value = std::strtod(number.c_str(), nullptr) * it->second;
  if (!std::isfinite(value) || value < 0 || value > 9.2e18) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(value));
}

std::optional<std::int64_t> parse_expiry(std::string_view text) {
  std::string t = trim(text);
  if (t.empty() || t == "never" || t == "none" || t == "0") return 0;
  if (auto n = to_int(t)) return *n > 0 ? std::optional<std::int64_t>(*n) : std::nullopt;
  std::tm tm{};
  bool end_of_day = false;
  const char* end = nullptr;
  if (t.size() == 10) {
    end = ::strptime(t.c_str(), "%Y-%m-%d", &tm);
    end_of_day = true;
  } else {
    end = ::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end != nullptr && *end == 'Z') ++end;
  }
  if (end == nullptr || *end != '\0') return std::nullopt;
  std::int64_t when = ::timegm(&tm);
  if (end_of_day) when += 86399;
  return when;
}

std::string format_time(std::int64_t unix_seconds) {
  std::time_t t = unix_seconds;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", v, kUnits[u]);
}

UserChange UserChange::from_json(const json& p) {
  if (!p.is_object()) throw UserError("the parameters must be an object");
  UserChange c;
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = p.find(key);
    if (it == p.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
    throw UserError(fmt::format("{}: expected a string", key));
  };
  c.email = text("email").value_or("");
  if (auto it = p.find("inbounds"); it != p.end() && !it->is_null()) {
    if (!it->is_array()) throw UserError("inbounds: expected an array of tags");
    std::vector<std::string> tags;
    for (const auto& t : *it) {
      if (!t.is_string()) throw UserError("inbounds: expected an array of tags");
      tags.push_back(t.get<std::string>());
    }
    c.inbounds = std::move(tags);
  }
  c.uuid = text("id");
  c.password = text("password");
  c.flow = text("flow");
  if (auto level = text("level")) {
    auto n = to_int(*level);
    if (!n || *n < 0 || *n > 255) throw UserError("level: expected 0..255");
    c.level = static_cast<std::uint32_t>(*n);
  }
  c.quota = text("quota");
  c.expire = text("expire");
  c.ip_limit = text("ip_limit");
  return c;
}

UserBook::UserBook(store::Store& store) : store_(store) {}

void UserBook::load() {
  users_.clear();
  for (auto& u : store_.load_users()) users_.emplace(u.email, std::move(u));
  changed();
}

void UserBook::set_config(const config::Config& config, const json& document) {
  inbounds_.clear();
  for (const auto& ib : config.inbounds) {
    if (ib.tag.empty()) continue;
    InboundInfo info;
    info.protocol = ib.protocol;
    if (const auto* s = std::get_if<config::SocksInbound>(&ib.settings)) {
      info.takes_users = s->auth_password;
      for (const auto& a : s->accounts)
        info.config_names.push_back(a.email.empty() ? a.user : a.email);
    } else if (const auto* h = std::get_if<config::HttpInbound>(&ib.settings)) {
      info.takes_users = true;
      for (const auto& a : h->accounts)
        info.config_names.push_back(a.email.empty() ? a.user : a.email);
    } else if (const auto* ss = std::get_if<config::ShadowsocksInbound>(&ib.settings)) {
      // 2022 users are told apart by their identity header, which only the multi-user
      // form (an iPSK in the inbound's password, AES methods) has.
      info.psk_size = ss->psk_size;
      info.takes_users = ss->psk_size == 0 || !ss->identity_psk.empty();
      if (!info.takes_users) {
        info.refusal = fmt::format(
            " (a {} inbound takes users only in the multi-user form: "
            "its iPSK as password, with clients)",
            ss->method);
      }
      for (const auto& u : ss->users)
        if (!u.email.empty()) info.config_names.push_back(u.email);
    } else {
      info.takes_users = protocol_wants_uuid(ib.protocol) || protocol_wants_password(ib.protocol);
    }
    inbounds_[ib.tag] = std::move(info);
  }
  document_ = document;
  public_address_ = config.xsup.public_address;
}

void UserBook::check_inbounds(const std::vector<std::string>& tags,
                              const std::string& email) const {
  if (tags.empty()) throw UserError("--inbound: a user needs at least one inbound");
  for (const auto& tag : tags) {
    auto it = inbounds_.find(tag);
    if (it == inbounds_.end()) {
      throw UserError(fmt::format("--inbound: no inbound is tagged \"{}\"", tag));
    }
    if (!it->second.takes_users) {
      const std::string why =
          it->second.protocol == "socks" ? " (its auth is \"noauth\")" : it->second.refusal;
      throw UserError(fmt::format("--inbound: inbound \"{}\" ({}) takes no users{}", tag,
                                  it->second.protocol, why));
    }
    const auto& names = it->second.config_names;
    if (std::find(names.begin(), names.end(), email) != names.end()) {
      throw UserError(fmt::format(
          "--email: \"{}\" is already an account of inbound \"{}\" in the configuration", email,
          tag));
    }
  }
}

void UserBook::fill_credentials(store::UserRecord& user, bool generate) const {
  bool wants_uuid = false, wants_password = false, vless = false;
  std::size_t psk_size = 0;  // a Shadowsocks 2022 inbound's key size
  for (const auto& tag : user.inbounds) {
    const auto& info = inbounds_.at(tag);
    wants_uuid |= protocol_wants_uuid(info.protocol);
    wants_password |= protocol_wants_password(info.protocol);
    vless |= info.protocol == "vless";
    if (info.psk_size != 0 && psk_size != 0 && info.psk_size != psk_size) {
      throw UserError(fmt::format(
          "--inbound: Shadowsocks 2022 inbounds with {}- and {}-byte keys cannot share a "
          "password",
          psk_size, info.psk_size));
    }
    if (info.psk_size != 0) psk_size = info.psk_size;
  }
  if (!user.uuid.empty()) {
    auto parsed = crypto::parse_uuid(user.uuid);
    if (!parsed) throw UserError(fmt::format("--id: \"{}\" is not a UUID", user.uuid));
    user.uuid = crypto::to_string(*parsed);
  } else if (wants_uuid && generate) {
    user.uuid = crypto::to_string(crypto::random_uuid());
  } else if (wants_uuid) {
    throw UserError("--id: a VLESS/VMess inbound needs the user's UUID");
  }
  if (user.password.empty() && wants_password) {
    if (!generate) throw UserError("--password: the inbound needs a password");
    user.password = psk_size != 0 ? random_key(psk_size) : random_password();
  }
  if (psk_size != 0) {
    const auto key = base::base64_decode(user.password);
    if (!key || key->size() != psk_size) {
      throw UserError(fmt::format(
          "--password: a Shadowsocks 2022 inbound needs the base64 of a {}-byte key", psk_size));
    }
  }
  if (user.password.find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos) {
    throw UserError("--password: control characters are not allowed");
  }
  static const std::set<std::string> kFlows = {"", "xtls-rprx-vision", "xtls-rprx-vision-udp443"};
  if (!kFlows.count(user.flow)) {
    throw UserError(
        fmt::format("--flow: \"{}\" is not a flow (xtls-rprx-vision, "
                    "xtls-rprx-vision-udp443)",
                    user.flow));
  }
  if (!user.flow.empty() && !vless) throw UserError("--flow: only VLESS inbounds take a flow");
}

void UserBook::check_unique(const store::UserRecord& user) const {
  for (const auto& [email, other] : users_) {
    if (email == user.email) continue;
    if (!user.uuid.empty() && other.uuid == user.uuid) {
      throw UserError(fmt::format("--id: {} already belongs to {}", user.uuid, email));
    }
  }
}

void UserBook::apply(store::UserRecord& user, const UserChange& c) const {
  if (c.ip_limit) {
    auto n = to_int(*c.ip_limit);
    if (!n || *n < 0 || *n > kMaxIpLimit) {
      throw UserError(fmt::format("--ip-limit: \"{}\" is not a count of IPs (0..{}, 0 = any)",
                                  *c.ip_limit, kMaxIpLimit));
    }
    user.ip_limit = static_cast<std::uint32_t>(*n);
  }
  if (c.inbounds) {
    user.inbounds = *c.inbounds;
    std::sort(user.inbounds.begin(), user.inbounds.end());
    user.inbounds.erase(std::unique(user.inbounds.begin(), user.inbounds.end()),
                        user.inbounds.end());
  }
  check_inbounds(user.inbounds, user.email);
  if (c.uuid) user.uuid = *c.uuid;
  if (c.password) user.password = *c.password;
  if (c.flow) user.flow = *c.flow;
  if (c.level) user.level = *c.level;
  if (c.quota) {
    auto q = parse_bytes(*c.quota);
    if (!q) throw UserError(fmt::format("--quota: \"{}\" is not a size (e.g. 10GB)", *c.quota));
    user.quota = *q;
  }
  if (c.expire) {
    auto e = parse_expiry(*c.expire);
    if (!e) throw UserError(fmt::format("--expire: \"{}\" is not a date (YYYY-MM-DD)", *c.expire));
    user.expire_at = *e;
  }
  fill_credentials(user, true);
  check_unique(user);
}

json UserBook::add(const UserChange& c) {
  if (c.email.empty()) throw UserError("--email: required");
  if (c.email.size() > kMaxEmail) throw UserError("--email: longer than 128 characters");
  if (c.email.find_first_of(" \t\r\n\"\\") != std::string::npos ||
      c.email.find(">>>") != std::string::npos) {
    throw UserError("--email: spaces, quotes, backslashes and \">>>\" are not allowed");
  }
  if (users_.count(c.email)) throw UserError(fmt::format("--email: {} already exists", c.email));
  store::UserRecord user;
  user.email = c.email;
  apply(user, c);
  store_.insert_user(user);
  auto [it, inserted] = users_.emplace(user.email, std::move(user));
  changed();
  return user_json(it->second, {});
}

json UserBook::set(const UserChange& c) {
  auto it = users_.find(c.email);
  if (it == users_.end()) throw UserError(fmt::format("--email: no user {}", c.email));
  store::UserRecord user = it->second;
  apply(user, c);
  store_.update_user(user);
  it->second = std::move(user);
  changed();
  return user_json(it->second, {});
}

json UserBook::enable(const std::string& email) {
  auto user = get(email);
  user.disabled = store::DisabledReason::kNone;
  store_.update_user(user);
  users_[email] = user;
  changed();
  return user_json(user, {});
}

json UserBook::disable(const std::string& email) {
  auto user = get(email);
  user.disabled = store::DisabledReason::kOperator;
  store_.update_user(user);
  users_[email] = user;
  changed();
  return user_json(user, {});
}

void UserBook::remove(const std::string& email) {
  const auto& user = get(email);
  store_.delete_user(user);
  users_.erase(email);
  changed();
}

const store::UserRecord& UserBook::get(const std::string& email) const {
  auto it = users_.find(email);
  if (it == users_.end()) throw UserError(fmt::format("--email: no user {}", email));
  return it->second;
}

json UserBook::links(const std::string& email) const {
  const auto& user = get(email);
  json out = json::array();
  std::string host = public_address_.empty() ? "127.0.0.1" : public_address_;
  const json* inbounds = nullptr;
  if (auto it = document_.find("inbounds"); it != document_.end() && it->is_array()) {
    inbounds = &*it;
  }
  for (const auto& tag : user.inbounds) {
    json entry = {{"inbound", tag}};
    const json* inbound = nullptr;
    if (inbounds != nullptr) {
      for (const auto& ib : *inbounds) {
        if (ib.is_object() && ib.value("tag", "") == tag) inbound = &ib;
      }
    }
    if (inbound == nullptr) {
      entry["error"] = "the inbound is not in the running configuration";
    } else {
      auto link =
          share_link(*inbound, LinkUser{user.email, user.uuid, user.password, user.flow}, host);
      if (link) {
        entry["link"] = *link;
      } else {
        entry["error"] = link.error().message();
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<std::string> UserBook::enforce(
    std::int64_t now, const std::function<std::uint64_t(const std::string&)>& used) {
  std::vector<std::string> off;
  for (auto& [email, user] : users_) {
    if (user.disabled != store::DisabledReason::kNone) continue;
    store::DisabledReason why = store::DisabledReason::kNone;
    if (user.expire_at != 0 && now >= user.expire_at) {
      why = store::DisabledReason::kExpired;
    } else if (user.quota != 0 && used(email) >= user.quota) {
      why = store::DisabledReason::kQuota;
    }
    if (why == store::DisabledReason::kNone) continue;
    user.disabled = why;
    store_.update_user(user);
    off.push_back(email);
  }
  if (!off.empty()) changed();
  return off;
}

bool UserBook::lift_if_allowed(store::UserRecord& user, std::int64_t now,
                               const std::function<std::uint64_t(const std::string&)>& used) {
  bool lift = (user.disabled == store::DisabledReason::kQuota &&
               (user.quota == 0 || used(user.email) < user.quota)) ||
              (user.disabled == store::DisabledReason::kExpired &&
               (user.expire_at == 0 || now < user.expire_at));
  if (!lift) return false;
  user.disabled = store::DisabledReason::kNone;
  store_.update_user(user);
  users_[user.email] = user;
  changed();
  return true;
}

xsup::users::UserSet UserBook::snapshot() const {
  xsup::users::UserSet set;
  set.version = version_;
  set.users.reserve(users_.size());
  for (const auto& [email, u] : users_) {
    if (u.disabled != store::DisabledReason::kNone) continue;
    set.users.push_back(xsup::users::UserEntry{u.email, u.uuid, u.password, u.flow, u.level,
                                               u.inbounds, u.ip_limit});
  }
  return set;
}

json user_json(const store::UserRecord& u, const store::Traffic& traffic) {
  json out = {{"email", u.email},
              {"inbounds", u.inbounds},
              {"level", u.level},
              {"enabled", u.disabled == store::DisabledReason::kNone},
              {"quota", u.quota},
              {"ip_limit", u.ip_limit},
              {"expire", u.expire_at == 0 ? json(nullptr) : json(format_time(u.expire_at))},
              {"uplink", traffic.uplink},
              {"downlink", traffic.downlink},
              {"connections", traffic.connections},
              {"created", format_time(u.created_at)},
              {"updated", format_time(u.updated_at)}};
  if (!u.uuid.empty()) out["id"] = u.uuid;
  if (!u.password.empty()) out["password"] = u.password;
  if (!u.flow.empty()) out["flow"] = u.flow;
  switch (u.disabled) {
    case store::DisabledReason::kNone:
      break;
    case store::DisabledReason::kOperator:
      out["disabled_reason"] = "disabled by the operator";
      break;
    case store::DisabledReason::kQuota:
      out["disabled_reason"] = fmt::format("quota of {} used up", format_bytes(u.quota));
      break;
    case store::DisabledReason::kExpired:
      out["disabled_reason"] = fmt::format("expired at {}", format_time(u.expire_at));
      break;
  }
  return out;
}

}  // namespace xsup::supervisor::users
