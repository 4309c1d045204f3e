#include "supervisor/users/links.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "shared/base/base64.h"

namespace xsup::supervisor::users {
namespace {

using base::Base64;
using base::base64_encode;
using base::base64url_decode;
using base::Errc;
using base::Expected;
using nlohmann::json;

// --- encodings -----------------------------------------------------------------------------

// RFC 3986 §2.3: only unreserved characters stay as they are; every other byte becomes %XX.
// Stricter than encodeURIComponent (which keeps !'()*), which every client decodes alike.
std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                            byte == '_' || byte == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  return out;
}

// X25519 public key of a REALITY private key, so that the link carries pbk.
std::optional<std::string> reality_public_key(std::string_view private_key) {
  const std::optional<std::string> raw = base64url_decode(private_key);
  if (!raw || raw->size() != 32) return std::nullopt;
  const std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                   reinterpret_cast<const unsigned char*>(raw->data()),
                                   raw->size()),
      &EVP_PKEY_free);
  if (!key) return std::nullopt;
  std::array<unsigned char, 32> pub{};
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != pub.size()) {
    return std::nullopt;
  }
  return base64_encode({reinterpret_cast<const char*>(pub.data()), len}, Base64::kUrl);
}

// --- reading the inbound as written ------------------------------------------------------------

// The member `key` of `object`, or nullptr when `object` is no object or lacks it: the
// inbound is the operator's JSON and may hold anything.
const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const json& null_json() {
  static const json kNull;
  return kNull;
}

const json& member_or_null(const json& object, std::string_view key) {
  const json* value = member(object, key);
  return value != nullptr ? *value : null_json();
}

std::string string_at(const json& object, std::string_view key) {
  const json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// A string, or an array of strings joined by commas (Xray's host lists, alpn, tcp paths).
std::string joined(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  std::string out;
  if (value.is_array()) {
    for (const json& item : value) {
      if (!item.is_string()) continue;
      if (!out.empty()) out.push_back(',');
      out += item.get<std::string>();
    }
  }
  return out;
}

std::string joined_at(const json& object, std::string_view key) {
  return joined(member_or_null(object, key));
}

// The first element of an array of strings, or "".
std::string first_at(const json& object, std::string_view key) {
  const json* value = member(object, key);
  if (value == nullptr || !value->is_array() || value->empty() || !(*value)[0].is_string()) {
    return {};
  }
  return (*value)[0].get<std::string>();
}

// The Host header of a headers object, whatever the case of its name.
std::string host_header(const json& headers) {
  if (!headers.is_object()) return {};
  for (const auto& [name, value] : headers.items()) {
    const bool is_host =
        name.size() == 4 && std::equal(name.begin(), name.end(), "host",
                                       [](char a, char b) { return (a | 0x20) == b; });
    if (is_host) {
      return joined(value);
    }
  }
  return {};
}

// The inbound's first port: a number, or a string "443", "1000-2000", "443,8443".
Expected<std::uint16_t> first_port(const json& inbound) {
  const json* port = member(inbound, "port");
  std::int64_t value = -1;
  if (port != nullptr && port->is_number_integer()) {
    value = port->get<std::int64_t>();
  } else if (port != nullptr && port->is_string()) {
    const std::string& text = port->get_ref<const std::string&>();
    std::size_t i = 0;
    while (i < text.size() && text[i] == ' ') ++i;
    std::int64_t n = 0;
    std::size_t digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 6; ++i, ++digits) {
      n = n * 10 + (text[i] - '0');
    }
    if (digits > 0 && (i == text.size() || text[i] == '-' || text[i] == ',' || text[i] == ' ')) {
      value = n;
    }
  }
  if (value < 1 || value > 65535) return {Errc::kProtocol, "the inbound has no usable port"};
  return static_cast<std::uint16_t>(value);
}

// "[2001:db8::1]" for an IPv6 literal (RFC 3986 §3.2.2), the host unchanged otherwise.
std::string uri_host(const std::string& host) {
  if (host.find(':') != std::string::npos && host.front() != '[') return '[' + host + ']';
  return host;
}

std::string bare_host(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// The transport as share links name it (the proposal's `type`, v2rayN's `net`).
struct Transport {
  std::string network;      // tcp, kcp, ws, http, grpc, httpupgrade, xhttp
  std::string header_type;  // tcp and kcp header obfuscation
  std::string host;
  std::string path;
  std::string service_name;  // grpc
  std::string mode;          // grpc gun|multi, xhttp mode
  std::string authority;     // grpc
  std::string seed;          // kcp
};

Expected<Transport> read_transport(const json& stream) {
  std::string network = string_at(stream, "network");
  if (network.empty()) network = string_at(stream, "type");
  Transport t;
  if (network.empty() || network == "tcp" || network == "raw") {
    t.network = "tcp";
    const json* settings = member(stream, "tcpSettings");
    if (settings == nullptr) settings = member(stream, "rawSettings");
    const json& header = member_or_null(settings != nullptr ? *settings : null_json(), "header");
    if (string_at(header, "type") == "http") {
      t.header_type = "http";
      const json& request = member_or_null(header, "request");
      t.host = host_header(member_or_null(request, "headers"));
      t.path = joined_at(request, "path");
    }
  } else if (network == "ws" || network == "websocket") {
    t.network = "ws";
    const json& ws = member_or_null(stream, "wsSettings");
    t.path = string_at(ws, "path");
    t.host = string_at(ws, "host");
    if (t.host.empty()) t.host = host_header(member_or_null(ws, "headers"));
  } else if (network == "grpc" || network == "gun") {
    t.network = "grpc";
    const json& grpc = member_or_null(stream, "grpcSettings");
    t.service_name = string_at(grpc, "serviceName");
    t.authority = string_at(grpc, "authority");
    const json* multi = member(grpc, "multiMode");
    t.mode = multi != nullptr && multi->is_boolean() && multi->get<bool>() ? "multi" : "gun";
  } else if (network == "httpupgrade") {
    t.network = "httpupgrade";
    const json& upgrade = member_or_null(stream, "httpupgradeSettings");
    t.path = string_at(upgrade, "path");
    t.host = string_at(upgrade, "host");
  } else if (network == "xhttp" || network == "splithttp") {
    t.network = "xhttp";
    const json* xhttp = member(stream, "xhttpSettings");
    if (xhttp == nullptr) xhttp = member(stream, "splithttpSettings");
    if (xhttp != nullptr) {
      t.path = string_at(*xhttp, "path");
      t.host = string_at(*xhttp, "host");
      t.mode = string_at(*xhttp, "mode");
    }
  } else if (network == "kcp" || network == "mkcp") {
    t.network = "kcp";
    const json& kcp = member_or_null(stream, "kcpSettings");
    t.header_type = string_at(member_or_null(kcp, "header"), "type");
    if (t.header_type.empty()) t.header_type = "none";
    t.seed = string_at(kcp, "seed");
  } else if (network == "http" || network == "h2") {
    t.network = "http";
    const json& http = member_or_null(stream, "httpSettings");
    t.path = string_at(http, "path");
    t.host = joined_at(http, "host");
  } else {
    return {Errc::kUnsupported, "this transport has no share link form"};
  }
  return t;
}

struct Security {
  std::string kind;  // none, tls, reality
  std::string sni;
  std::string alpn;
  std::string fingerprint;
  std::string public_key;
  std::string short_id;
};

Expected<Security> read_security(const json& stream) {
  const std::string kind = string_at(stream, "security");
  Security s;
  if (kind.empty() || kind == "none") {
    s.kind = "none";
  } else if (kind == "tls") {
    s.kind = "tls";
    const json& tls = member_or_null(stream, "tlsSettings");
    s.sni = string_at(tls, "serverName");
    s.alpn = joined_at(tls, "alpn");
    s.fingerprint = string_at(tls, "fingerprint");
  } else if (kind == "reality") {
    s.kind = "reality";
    const json& reality = member_or_null(stream, "realitySettings");
    s.sni = first_at(reality, "serverNames");
    s.short_id = first_at(reality, "shortIds");
    s.fingerprint = string_at(reality, "fingerprint");
    // The server side names no uTLS fingerprint, yet a REALITY client needs one.
    if (s.fingerprint.empty()) s.fingerprint = "chrome";
    s.public_key = string_at(reality, "publicKey");
    if (s.public_key.empty()) {
      const std::optional<std::string> derived =
          reality_public_key(string_at(reality, "privateKey"));
      if (!derived) return {Errc::kProtocol, "realitySettings.privateKey is no X25519 key"};
      s.public_key = *derived;
    }
  } else {
    return {Errc::kUnsupported, "this security has no share link form"};
  }
  return s;
}

// key=value pairs in the order added; values percent-encoded, empty values left out.
class Query {
 public:
  void add(std::string_view key, std::string_view value) {
    if (value.empty()) return;
    text_.push_back(text_.empty() ? '?' : '&');
    text_.append(key);
    text_.push_back('=');
    text_ += percent_encode(value);
  }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

// type, its parameters, security and its parameters: the part VLESS and Trojan share.
void add_stream(Query& query, const Transport& t, const Security& s) {
  query.add("type", t.network);
  query.add("headerType", t.header_type);
  query.add("host", t.host);
  query.add("path", t.path);
  query.add("seed", t.seed);
  query.add("serviceName", t.service_name);
  query.add("authority", t.authority);
  query.add("mode", t.mode);
  query.add("security", s.kind);
  query.add("sni", s.sni);
  query.add("alpn", s.alpn);
  query.add("fp", s.fingerprint);
  query.add("pbk", s.public_key);
  query.add("sid", s.short_id);
}

std::string fragment(const std::string& email) {
  return email.empty() ? std::string() : '#' + percent_encode(email);
}

std::string authority(const std::string& host, std::uint16_t port) {
  return uri_host(host) + ':' + std::to_string(port);
}

// Shadowsocks, SOCKS and HTTP links have no field for a transport or for REALITY.
bool plain_tcp(const Transport& t) { return t.network == "tcp" && t.header_type.empty(); }

bool is_ss2022(std::string_view method) { return method.substr(0, 5) == "2022-"; }

// The settings.clients (or users/accounts) entry whose email is `email`, or null.
const json& client_entry(const json& settings, std::string_view list, const std::string& email) {
  const json* clients = member(settings, list);
  if (clients == nullptr || !clients->is_array()) return null_json();
  for (const json& client : *clients) {
    if (!email.empty() && string_at(client, "email") == email) return client;
  }
  return null_json();
}

Expected<std::string> shadowsocks_link(const json& settings, const LinkUser& user,
                                       const std::string& where) {
  // Multi-user when the inbound keeps a user list (Xray's `clients`, sing-box's `users`):
  // then the user's own key; otherwise the inbound's password.
  const json* list = member(settings, "clients");
  const char* list_name = "clients";
  if (list == nullptr) {
    list = member(settings, "users");
    list_name = "users";
  }
  const bool multi_user = list != nullptr && list->is_array();
  const json& client = multi_user ? client_entry(settings, list_name, user.email) : null_json();

  // A user the list does not name (a store user) takes the inbound's method, else the
  // first client's, as the server does.
  std::string method = string_at(client, "method");
  if (method.empty()) method = string_at(settings, "method");
  if (method.empty() && multi_user && !list->empty()) method = string_at(list->front(), "method");
  if (method.empty()) return {Errc::kProtocol, "shadowsocks: no method"};
  const std::string inbound_password = string_at(settings, "password");

  std::string password;
  if (!user.password.empty()) {
    // SIP022 multi-user: the client sends the identity header of the server key (iPSK) and
    // encrypts with its own (uPSK); Xray, sing-box and shadowsocks-rust take "iPSK:uPSK".
    password = is_ss2022(method) && multi_user && !inbound_password.empty()
                   ? inbound_password + ':' + user.password
                   : user.password;
  } else if (multi_user) {
    return {Errc::kProtocol, "shadowsocks: the user has no password"};
  } else {
    password = inbound_password;
    if (password.empty()) return {Errc::kProtocol, "shadowsocks: no password"};
  }
  // SIP002: base64url of method:password, except for the 2022 methods, whose userinfo must
  // be percent-encoded text.
  const std::string userinfo = is_ss2022(method)
                                   ? percent_encode(method) + ':' + percent_encode(password)
                                   : base64_encode(method + ':' + password, Base64::kUrl);
  return "ss://" + userinfo + '@' + where + fragment(user.email);
}

// v2rayN's vmess:// JSON (its wiki "分享链接格式说明(ver-2)"): every value a string.
std::string vmess_link(const LinkUser& user, const std::string& host, std::uint16_t port,
                       const Transport& t, const Security& s) {
  nlohmann::ordered_json link;
  link["v"] = "2";
  link["ps"] = user.email;
  link["add"] = bare_host(host);
  link["port"] = std::to_string(port);
  link["id"] = user.uuid;
  link["aid"] = "0";
  link["scy"] = "auto";
  link["net"] = t.network == "http" ? "h2" : t.network;
  // type is the header obfuscation for tcp and kcp, the mode for grpc and xhttp.
  std::string type = t.header_type;
  if (t.network == "grpc" || t.network == "xhttp") type = t.mode;
  link["type"] = type.empty() ? "none" : type;
  link["host"] = t.network == "grpc" ? t.authority : t.host;
  std::string path = t.path;
  if (t.network == "grpc") path = t.service_name;
  if (t.network == "kcp") path = t.seed;
  link["path"] = path;
  link["tls"] = s.kind == "tls" ? "tls" : "";
  link["sni"] = s.sni;
  link["alpn"] = s.alpn;
  link["fp"] = s.fingerprint;
  return "vmess://" + base64_encode(link.dump(-1, ' ', false, json::error_handler_t::replace));
}

// The user name of a SOCKS or HTTP account: the `user` of the account with this email,
// else the email itself (xsup's default for accounts without one).
std::string account_user(const json& settings, const LinkUser& user) {
  const json& account = client_entry(settings, "accounts", user.email);
  std::string name = string_at(account, "user");
  if (name.empty()) name = string_at(client_entry(settings, "users", user.email), "user");
  return name.empty() ? user.email : name;
}

}  // namespace

Expected<std::string> share_link(const nlohmann::json& inbound, const LinkUser& user,
                                 const std::string& host) {
  if (!inbound.is_object()) return {Errc::kProtocol, "the inbound is no JSON object"};
  if (host.empty()) return {Errc::kProtocol, "no public address for the link"};
  const std::string protocol = string_at(inbound, "protocol");
  const bool known = protocol == "vless" || protocol == "vmess" || protocol == "trojan" ||
                     protocol == "shadowsocks" || protocol == "socks" || protocol == "http";
  if (!known) return {Errc::kUnsupported, "this protocol has no share link"};

  Expected<std::uint16_t> port = first_port(inbound);
  if (!port) return port.error();
  const json& settings = member_or_null(inbound, "settings");
  const json& stream = member_or_null(inbound, "streamSettings");
  Expected<Transport> transport = read_transport(stream);
  if (!transport) return transport.error();
  Expected<Security> security = read_security(stream);
  if (!security) return security.error();
  const Transport& t = *transport;
  const Security& s = *security;
  const std::string where = authority(host, *port);

  if (protocol == "vless") {
    if (user.uuid.empty()) return {Errc::kProtocol, "vless: the user has no uuid"};
    const std::string decryption = string_at(settings, "decryption");
    if (!decryption.empty() && decryption != "none") {
      return {Errc::kUnsupported, "vless: links carry no decryption other than none"};
    }
    Query query;
    query.add("encryption", "none");
    add_stream(query, t, s);
    query.add("flow", user.flow);
    return "vless://" + percent_encode(user.uuid) + '@' + where + query.str() +
           fragment(user.email);
  }
  if (protocol == "trojan") {
    if (user.password.empty()) return {Errc::kProtocol, "trojan: the user has no password"};
    Query query;
    add_stream(query, t, s);
    return "trojan://" + percent_encode(user.password) + '@' + where + query.str() +
           fragment(user.email);
  }
  if (protocol == "vmess") {
    if (user.uuid.empty()) return {Errc::kProtocol, "vmess: the user has no uuid"};
    if (s.kind == "reality") return {Errc::kUnsupported, "vmess: links carry no REALITY keys"};
    return vmess_link(user, host, *port, t, s);
  }

  if (!plain_tcp(t)) return {Errc::kUnsupported, "this protocol's link has no transport field"};
  if (protocol == "shadowsocks") {
    if (s.kind != "none") return {Errc::kUnsupported, "shadowsocks: links carry no TLS"};
    return shadowsocks_link(settings, user, where);
  }
  if (protocol == "socks") {
    if (s.kind != "none") return {Errc::kUnsupported, "socks: links carry no TLS"};
    const bool needs_password = string_at(settings, "auth") == "password";
    if (needs_password && user.password.empty()) {
      return {Errc::kProtocol, "socks: the user has no password"};
    }
    // The userinfo as v2rayN writes it: base64 of user:pass (URL alphabet, no padding, so
    // that it needs no escaping).
    std::string userinfo;
    if (!user.password.empty()) {
      userinfo =
          base64_encode(account_user(settings, user) + ':' + user.password, Base64::kUrl) + '@';
    }
    return "socks://" + userinfo + where + fragment(user.email);
  }
  // http: RFC 3986 userinfo, https when the inbound speaks TLS.
  if (s.kind == "reality") return {Errc::kUnsupported, "http: links carry no REALITY keys"};
  const json* accounts = member(settings, "accounts");
  const bool needs_password = accounts != nullptr && accounts->is_array() && !accounts->empty();
  if (needs_password && user.password.empty()) {
    return {Errc::kProtocol, "http: the user has no password"};
  }
  std::string userinfo;
  if (!user.password.empty()) {
    userinfo =
        percent_encode(account_user(settings, user)) + ':' + percent_encode(user.password) + '@';
  }
  return (s.kind == "tls" ? "https://" : "http://") + userinfo + where + fragment(user.email);
}

}  // namespace xsup::supervisor::users
