// streamSettings (seeds/transport-config.md, spec/sockopt.md, spec/tcp-header.md): only
// raw/tcp without header obfuscation, plain or under TLS, runs today; everything else is
// type-checked and then rejected, so a config that xsup accepts means what Xray means.

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "shared/config/builders.h"

namespace xsup::config {
namespace {

constexpr std::int64_t kIntMax = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kIntMin = std::numeric_limits<std::int32_t>::min();

struct DomainStrategyName {
  std::string_view name;
  DomainStrategy value;
};
constexpr std::array<DomainStrategyName, 11> kDomainStrategies{{
    {"AsIs", DomainStrategy::kAsIs},
    {"UseIP", DomainStrategy::kUseIp},
    {"UseIPv4", DomainStrategy::kUseIpv4},
    {"UseIPv6", DomainStrategy::kUseIpv6},
    {"UseIPv4v6", DomainStrategy::kUseIpv4v6},
    {"UseIPv6v4", DomainStrategy::kUseIpv6v4},
    {"ForceIP", DomainStrategy::kForceIp},
    {"ForceIPv4", DomainStrategy::kForceIpv4},
    {"ForceIPv6", DomainStrategy::kForceIpv6},
    {"ForceIPv4v6", DomainStrategy::kForceIpv4v6},
    {"ForceIPv6v4", DomainStrategy::kForceIpv6v4},
}};

// A map whose values are a string or a list of strings (HTTP header objects).
void check_header_map(const Value& value) {
  Object headers(value);
  for (auto& [name, item] : headers.items()) {
    if (item.present() && !item.json().is_string()) item.as_string_list(false);
  }
}

void check_http_request(const Value& value) {
  Object request(value);
  request.get("version").as_string();
  request.get("method").as_string();
  request.get("path").as_string_list();
  check_header_map(request.get("headers"));
}

void check_http_response(const Value& value) {
  Object response(value);
  response.get("version").as_string();
  response.get("status").as_string();
  response.get("reason").as_string();
  check_header_map(response.get("headers"));
}

// rawSettings / tcpSettings (spec/tcp-header.md §1).
void build_raw(const Value& value, StreamSettings& stream) {
  Object raw(value);
  if (auto accept = raw.get("acceptProxyProtocol"); accept.as_bool().value_or(false)) {
    accept.not_supported();
    stream.accept_proxy_protocol = true;
  }
  Object header(raw.get("header"));
  Value type = header.get("type");
  std::string kind = type.as_string().value_or("none");
  if (kind == "http") {
    type.error("\"http\" not supported yet");
  } else if (kind != "none" && kind != "") {
    type.error(fmt::format("{} is not a header type (none, http)", show(type.json())));
  }
  check_http_request(header.get("request"));
  check_http_response(header.get("response"));
}

std::optional<std::string> read_pem_file(const Value& where, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    where.error(fmt::format("cannot read {}: {}", show(file), std::strerror(errno)));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

// Parses the chain and the key, and checks that they belong together, so a bad
// certificate is reported with its JSON path when the config is built (xsup test -c).
void check_key_pair(const Value& where, const TlsCertificate& cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(cert.certificate_pem.data(), static_cast<int>(cert.certificate_pem.size())),
      &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> leaf(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!leaf) {
    ERR_clear_error();
    where.error("no PEM certificate found");
    return;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) {
    ERR_clear_error();
    where.error("no PEM private key found (an encrypted key is not supported)");
    return;
  }
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    where.error("the private key does not match the certificate");
  }
}

void build_certificate(const Value& value, TlsConfig& tls) {
  Object cert(value);
  if (Value ocsp = cert.get("ocspStapling"); auto n = ocsp.as_uint32()) {
    if (*n != 0) ocsp.not_supported();
  }
  cert.get("oneTimeLoading").as_bool();  // certificates are only ever loaded once
  Value usage = cert.get("usage");
  if (auto u = usage.as_string();
      u && !u->empty() && *u != "encipherment" && *u != "verify" && *u != "issue") {
    usage.error(fmt::format("{} is not a certificate usage (encipherment, verify, issue)",
                            show(usage.json())));
  } else if (u && *u == "issue") {
    usage.error(fmt::format("{} not supported yet", show(usage.json())));
  }
  if (Value chain = cert.get("buildChain"); chain.as_bool().value_or(false)) {
    chain.not_supported();
  }
  if (const std::string u = usage.as_string().value_or("");
      !u.empty() && u != "encipherment" && u != "verify") {
    cert.ignore_rest();  // refused above: its certificate is not needed
    return;
  }
  if (usage.as_string().value_or("") == "verify") {
    // A CA the client trusts: the certificate alone, no key.
    auto file = cert.get("certificateFile").as_string().value_or("");
    auto lines = cert.get("certificate").as_string_list(false);
    std::optional<std::string> text;
    if (!file.empty()) {
      text = read_pem_file(cert.get("certificateFile"), file);
    } else if (lines && !lines->empty()) {
      text = join_lines(*lines);
    } else {
      value.error("certificateFile or certificate required");
    }
    cert.get("keyFile").as_string();
    cert.get("key").as_string_list(false);
    if (!text) return;
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(text->data(), static_cast<int>(text->size())), &BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> ca(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    ERR_clear_error();
    if (!ca) {
      value.error("no PEM certificate found");
      return;
    }
    tls.verify_cas.push_back(std::move(*text));
    return;
  }
  TlsCertificate out;
  out.path = value.path();
  // A file takes precedence over the inline lines, as in Xray.
  auto cert_file = cert.get("certificateFile").as_string().value_or("");
  auto key_file = cert.get("keyFile").as_string().value_or("");
  auto cert_lines = cert.get("certificate").as_string_list(false);
  auto key_lines = cert.get("key").as_string_list(false);
  bool ok = true;
  if (!cert_file.empty()) {
    auto text = read_pem_file(cert.get("certificateFile"), cert_file);
    ok = text.has_value();
    if (text) out.certificate_pem = std::move(*text);
  } else if (cert_lines && !cert_lines->empty()) {
    out.certificate_pem = join_lines(*cert_lines);
  } else {
    value.error("certificateFile or certificate required");
    ok = false;
  }
  if (!key_file.empty()) {
    auto text = read_pem_file(cert.get("keyFile"), key_file);
    ok = ok && text.has_value();
    if (text) out.key_pem = std::move(*text);
  } else if (key_lines && !key_lines->empty()) {
    out.key_pem = join_lines(*key_lines);
  } else {
    value.error("keyFile or key required");
    ok = false;
  }
  if (!ok) return;
  check_key_pair(value, out);
  tls.certificates.push_back(std::move(out));
}

void check_tls_version(const Value& value, std::string& out) {
  auto v = value.as_string();
  if (v && !v->empty() && *v != "1.0" && *v != "1.1" && *v != "1.2" && *v != "1.3") {
    value.error(fmt::format("{} is not a TLS version (1.0 .. 1.3)", show(value.json())));
  } else if (v) {
    out = *v;
  }
}

// cipherSuites: Go (IANA) names as Xray takes them, or OpenSSL's names, separated by ':'.
// Split into OpenSSL's TLS 1.2 cipher list and its TLS 1.3 suite list.
void build_cipher_suites(const Value& value, TlsConfig& tls) {
  auto text = value.as_string();
  if (!text || text->empty()) return;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), &SSL_CTX_free);
  if (!ctx) return;
  SSL_CTX_set_cipher_list(ctx.get(), "ALL:COMPLEMENTOFALL:@SECLEVEL=0");
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  STACK_OF(SSL_CIPHER)* all = ssl ? SSL_get_ciphers(ssl.get()) : nullptr;
  std::size_t start = 0;
  while (start <= text->size()) {
    std::size_t end = text->find(':', start);
    if (end == std::string::npos) end = text->size();
    std::string name = text->substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    const SSL_CIPHER* found = nullptr;
    for (int i = 0; all != nullptr && i < sk_SSL_CIPHER_num(all); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(all, i);
      const char* standard = SSL_CIPHER_standard_name(c);
      if (name == SSL_CIPHER_get_name(c) || (standard != nullptr && name == standard)) {
        found = c;
        break;
      }
    }
    if (found == nullptr) {
      value.error(fmt::format("{} is not a cipher suite", show(name)));
      continue;
    }
    const bool tls13 = std::string_view(SSL_CIPHER_get_version(found)) == "TLSv1.3";
    std::string& list = tls13 ? tls.tls13_suites : tls.tls12_ciphers;
    if (!list.empty()) list += ':';
    list += SSL_CIPHER_get_name(found);
  }
}

// Fields of TLSObject xsup does not implement: refused when set to anything but the default.
void refuse_unless_default(Object& tls) {
  tls.get("disableSessionResumption").as_bool();  // resumption is off unless enabled
  for (std::string_view key : {"fingerprint", "pinnedPeerCertSha256", "verifyPeerCertByName",
                               "echServerKeys", "echConfigList", "echForceQuery"}) {
    if (Value v = tls.get(key); !v.as_string().value_or("").empty()) v.not_supported();
  }
  for (std::string_view key :
       {"pinnedPeerCertificatePublicKeySha256", "verifyPeerCertInNames", "curvePreferences"}) {
    Value v = tls.get(key);
    auto list = v.as_string_list();
    if (!list) continue;
    bool set = false;
    for (const auto& item : *list) set = set || !item.empty();
    if (set) v.not_supported();
  }
}

// TLSObject (seeds/transport-config.md).
TlsConfig build_tls(const Value& value, bool inbound) {
  TlsConfig out;
  out.path = value.path();
  Object tls(value);
  tls.read("serverName", out.server_name);
  tls.read("rejectUnknownSni", out.reject_unknown_sni);
  if (Value insecure = tls.get("allowInsecure"); insecure.as_bool().value_or(false)) {
    out.allow_insecure = true;
    if (!inbound) {
      insecure.warning(
          "the server's certificate is NOT verified: anyone on the path can read and change "
          "this traffic");
    }
  }
  if (Value alpn = tls.get("alpn"); auto list = alpn.as_string_list()) {
    for (const auto& item : *list) {
      if (item.empty() || item.size() > 255) {
        alpn.error(fmt::format("{} is not an ALPN protocol name", show(item)));
      } else {
        out.alpn.push_back(item);
      }
    }
  }
  check_tls_version(tls.get("minVersion"), out.min_version);
  check_tls_version(tls.get("maxVersion"), out.max_version);
  if (!out.min_version.empty() && !out.max_version.empty() && out.min_version > out.max_version) {
    tls.get("maxVersion")
        .error(fmt::format("{} is below minVersion {}", out.max_version, out.min_version));
  }
  build_cipher_suites(tls.get("cipherSuites"), out);
  for (const auto& cert : tls.get("certificates").elements()) build_certificate(cert, out);
  tls.read("disableSystemRoot", out.disable_system_root);
  if (inbound && !out.verify_cas.empty()) {
    tls.get("certificates")
        .error("usage \"verify\" on an inbound (client certificates) not supported yet");
  }
  tls.read("enableSessionResumption", out.enable_session_resumption);
  tls.read("masterKeyLog", out.master_key_log);
  if (Value pins = tls.get("pinnedPeerCertificateChainSha256"); auto list = pins.as_string_list()) {
    for (const auto& pin : *list) {
      if (pin.empty()) continue;  // as Xray: an empty entry pins nothing
      // Standard base64 of 32 bytes: 43 characters and one '='.
      if (pin.size() != 44 || pin.back() != '=' ||
          pin.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != 43) {
        pins.error(fmt::format("{} is not a base64 SHA-256 hash", show(pin)));
      } else {
        out.pinned_chain_sha256.push_back(pin);
      }
    }
  }
  refuse_unless_default(tls);
  return out;
}

// RealityObject: checked for types only.
void check_reality(const Value& value) {
  Object reality(value);
  reality.get("show").as_bool();
  for (std::string_view key : {"dest", "target"}) {
    Value dest = reality.get(key);
    // Xray takes a port number or an "address:port" string here.
    if (dest.present() && !dest.json().is_string() && !dest.json().is_number_integer()) {
      dest.error(fmt::format("{} is not an address or port", show(dest.json())));
    }
  }
  reality.get("xver").as_int(0, 2);
  reality.get("serverNames").as_string_list();
  reality.get("privateKey").as_string();
  reality.get("minClientVer").as_string();
  reality.get("maxClientVer").as_string();
  reality.get("maxTimeDiff").as_int(0, std::numeric_limits<std::int64_t>::max());
  for (const auto& id : reality.get("shortIds").elements()) {
    auto text = id.as_string();
    if (text && (text->size() % 2 != 0 || text->size() > 16 ||
                 text->find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)) {
      id.error(fmt::format("{} is not a short id (even number of hex digits, at most 16)",
                           show(id.json())));
    }
  }
  reality.get("fingerprint").as_string();
  reality.get("serverName").as_string();
  reality.get("publicKey").as_string();
  reality.get("password").as_string();
  reality.get("shortId").as_string();
  reality.get("spiderX").as_string();
  reality.get("mldsa65Seed").as_string();
  reality.get("mldsa65Verify").as_string();
}

void build_custom_sockopt(const Value& value, SockoptConfig& out) {
  for (const auto& item : value.elements()) {
    Object entry(item);
    CustomSockopt opt;
    std::string system;
    entry.read("system", system);
    entry.read("network", opt.network);
    // level and opt are decimal strings in Xray; numbers are taken too.
    auto read_decimal = [&entry](std::string_view key, int& out_value) {
      Value v = entry.get(key);
      if (v.absent()) return false;
      if (v.json().is_string()) {
        const auto& text = v.json().get_ref<const std::string&>();
        try {
          std::size_t used = 0;
          long long n = std::stoll(text, &used, 10);
          if (used != text.size() || n < kIntMin || n > kIntMax) throw std::out_of_range(text);
          out_value = static_cast<int>(n);
          return true;
        } catch (const std::exception&) {
          v.error(fmt::format("{} is not a decimal number", show(v.json())));
          return false;
        }
      }
      auto n = v.as_int(kIntMin, kIntMax);
      if (n) out_value = static_cast<int>(*n);
      return n.has_value();
    };
    read_decimal("level", opt.level);
    Value opt_value = entry.get("opt");
    if (opt_value.absent()) {
      opt_value.error("required");
    } else {
      read_decimal("opt", opt.opt);
    }
    Value type = entry.get("type");
    Value raw_value = entry.get("value");
    std::string value_text;
    if (raw_value.present() && raw_value.json().is_number_integer()) {
      value_text = raw_value.json().dump();
    } else {
      value_text = raw_value.as_string().value_or("");
    }
    auto type_name = type.as_string();
    if (!type_name) {
      if (type.absent()) type.error("required (int or str)");
      continue;
    }
    if (*type_name == "int") {
      try {
        std::size_t used = 0;
        opt.int_value = std::stoll(value_text, &used, 10);
        if (used != value_text.size()) throw std::invalid_argument(value_text);
      } catch (const std::exception&) {
        raw_value.error(fmt::format("{} is not a decimal number", show(value_text)));
        continue;
      }
    } else if (*type_name == "str") {
      opt.is_string = true;
      opt.string_value = value_text;
    } else {
      type.error(fmt::format("{} is not a sockopt type (int, str)", show(type.json())));
      continue;
    }
    // Entries for other systems are Xray's own business: they are skipped there too.
    if (!system.empty() && !iequals(system, "linux")) continue;
    out.custom.push_back(std::move(opt));
  }
}

void check_happy_eyeballs(const Value& value) {
  Object he(value);
  he.get("tryDelayMs").as_uint32();
  he.get("prioritizeIPv6").as_bool();
  he.get("interleave").as_uint32();
  he.get("maxConcurrentTry").as_uint32();
}

SockoptConfig build_sockopt(const Value& value, bool inbound, bool& accept_proxy_protocol) {
  SockoptConfig out;
  Object so(value);
  so.read("mark", out.mark);
  if (Value tfo = so.get("tcpFastOpen"); tfo.present()) {
    // spec/sockopt.md §1: true = 256 (a queue length), false = -1, 0 = leave the OS alone.
    if (tfo.json().is_boolean()) {
      out.tcp_fast_open = tfo.json().get<bool>() ? 256 : -1;
    } else if (tfo.json().is_number()) {
      auto n = tfo.as_int(kIntMin, kIntMax);
      if (n && *n != 0) out.tcp_fast_open = static_cast<int>(*n);
    } else {
      tfo.error(fmt::format("{} is not a boolean or number", show(tfo.json())));
    }
  }
  if (Value tproxy = so.get("tproxy"); auto t = tproxy.as_string()) {
    if (iequals(*t, "off") || t->empty()) {
      out.tproxy = Tproxy::kOff;
    } else if (iequals(*t, "redirect")) {
      out.tproxy = Tproxy::kRedirect;
    } else if (iequals(*t, "tproxy")) {
      out.tproxy = Tproxy::kTproxy;
    } else {
      tproxy.error(
          fmt::format("{} is not a tproxy mode (off, redirect, tproxy)", show(tproxy.json())));
    }
  }
  if (auto ds = read_domain_strategy(so.get("domainStrategy"))) out.domain_strategy = *ds;
  so.read_int("tcpKeepAliveIdle", out.tcp_keep_alive_idle, kIntMin, kIntMax);
  Value interval = so.get("tcpKeepAliveInterval");
  if (auto n = interval.as_int(kIntMin, kIntMax)) {
    out.tcp_keep_alive_interval = static_cast<int>(*n);
    if (static_cast<std::int64_t>(out.tcp_keep_alive_idle) * out.tcp_keep_alive_interval < 0) {
      interval.error("tcpKeepAliveIdle and tcpKeepAliveInterval must have the same sign");
    }
  }
  so.read_int("tcpUserTimeout", out.tcp_user_timeout_ms, 0, kIntMax);
  so.read("tcpCongestion", out.tcp_congestion);
  so.read_int("tcpWindowClamp", out.tcp_window_clamp, 0, kIntMax);
  if (Value mss = so.get("tcpMaxSeg"); mss.present()) {
    // 0 means "leave the OS default"; any other value must be a possible segment size.
    if (!(mss.json().is_number_integer() && mss.json().get<std::int64_t>() == 0)) {
      if (auto n = mss.as_int(1, 65535)) out.tcp_max_seg = static_cast<int>(*n);
    }
  }
  so.read("interface", out.interface);
  so.read("v6only", out.v6only);
  so.read("tcpMptcp", out.tcp_mptcp);
  build_custom_sockopt(so.get("customSockopt"), out);

  if (Value dialer = so.get("dialerProxy"); !dialer.as_string().value_or("").empty()) {
    dialer.not_supported();
  }
  if (Value accept = so.get("acceptProxyProtocol"); accept.as_bool().value_or(false)) {
    if (inbound) {
      accept.not_supported();
      accept_proxy_protocol = true;
    } else {
      accept.warning("only used by inbounds, ignored");
    }
  }
  if (Value he = so.get("happyEyeballs"); he.present()) {
    check_happy_eyeballs(he);
    if (!he.empty()) he.not_supported();  // {} keeps Xray's default: no racing
  }
  if (Value aps = so.get("addressPortStrategy"); auto s = aps.as_string()) {
    static constexpr std::array<std::string_view, 7> kStrategies{
        "none",        "SrvPortOnly",    "SrvAddressOnly",   "SrvPortAndAddress",
        "TxtPortOnly", "TxtAddressOnly", "TxtPortAndAddress"};
    bool known = s->empty();
    for (auto name : kStrategies) known = known || iequals(*s, name);
    if (!known) {
      aps.error(fmt::format("{} is not an address/port strategy", show(aps.json())));
    } else if (!s->empty() && !iequals(*s, "none")) {
      aps.not_supported();
    }
  }
  if (Value xff = so.get("trustedXForwardedFor"); auto list = xff.as_string_list()) {
    if (!list->empty()) xff.not_supported();
  }
  if (Value penetrate = so.get("penetrate"); penetrate.as_bool().value_or(false)) {
    penetrate.not_supported();
  }
  if (Value nodelay = so.get("tcpNoDelay"); nodelay.present()) {
    nodelay.as_bool();
    nodelay.warning("removed from Xray (TCP_NODELAY is always on; use customSockopt), ignored");
  }
  return out;
}

struct TransportName {
  std::string_view name;
  TransportKind kind;
  bool supported;
};
constexpr std::array<TransportName, 11> kTransports{{
    {"raw", TransportKind::kRaw, true},
    {"tcp", TransportKind::kRaw, true},
    {"kcp", TransportKind::kKcp, false},
    {"mkcp", TransportKind::kKcp, false},
    {"ws", TransportKind::kWebSocket, false},
    {"websocket", TransportKind::kWebSocket, false},
    {"grpc", TransportKind::kGrpc, false},
    {"httpupgrade", TransportKind::kHttpUpgrade, false},
    {"xhttp", TransportKind::kXhttp, false},
    {"splithttp", TransportKind::kXhttp, false},
    // Hysteria has no TransportKind yet; it is always rejected below.
    {"hysteria", TransportKind::kRaw, false},
}};

struct TransportSettingsKey {
  std::string_view key;
  std::string_view network;  // canonical network name it belongs to
};
constexpr std::array<TransportSettingsKey, 10> kTransportSettings{{
    {"kcpSettings", "mkcp"},
    {"mkcpSettings", "mkcp"},
    {"wsSettings", "ws"},
    {"websocketSettings", "ws"},
    {"grpcSettings", "grpc"},
    {"httpupgradeSettings", "httpupgrade"},
    {"xhttpSettings", "xhttp"},
    {"splithttpSettings", "xhttp"},
    {"hysteriaSettings", "hysteria"},
    {"finalmask", ""},
}};

std::string_view canonical_network(std::string_view name) {
  if (iequals(name, "tcp") || name.empty()) return "raw";
  if (iequals(name, "kcp")) return "mkcp";
  if (iequals(name, "websocket")) return "ws";
  if (iequals(name, "splithttp")) return "xhttp";
  return name;
}

}  // namespace

std::optional<DomainStrategy> parse_domain_strategy(std::string_view text) {
  for (const auto& [name, value] : kDomainStrategies) {
    if (iequals(text, name)) return value;
  }
  return std::nullopt;
}

std::optional<DomainStrategy> read_domain_strategy(const Value& value) {
  auto text = value.as_string();
  if (!text) return std::nullopt;
  if (text->empty()) return DomainStrategy::kAsIs;
  auto ds = parse_domain_strategy(*text);
  if (!ds) {
    value.error(fmt::format(
        "{} is not a domain strategy (AsIs, UseIP[v4|v6|v4v6|v6v4], ForceIP[v4|v6|v4v6|v6v4])",
        show(value.json())));
  }
  return ds;
}

StreamSettings build_stream(const Value& value, bool inbound) {
  StreamSettings out;
  Object stream(value);
  if (!stream.valid()) return out;

  Value network = stream.get("network");
  if (network.absent()) network = stream.get("method");
  std::string net_name = network.as_string().value_or("raw");
  std::string selected = std::string(canonical_network(net_name));
  bool known = false;
  for (const auto& t : kTransports) {
    if (!iequals(net_name, t.name) && !(net_name.empty() && t.name == "raw")) continue;
    known = true;
    out.network = t.kind;
    if (!t.supported) network.error(fmt::format("{} not supported yet", show(network.json())));
    break;
  }
  if (!known) {
    if (iequals(net_name, "h2") || iequals(net_name, "http") || iequals(net_name, "h3") ||
        iequals(net_name, "quic")) {
      network.error(fmt::format("{} removed from Xray, use xhttp", show(network.json())));
    } else if (network.present() && network.json().is_string()) {
      network.error(fmt::format("{} is not a known network", show(network.json())));
    }
  }

  Value security = stream.get("security");
  std::string sec = security.as_string().value_or("none");
  if (sec.empty() || iequals(sec, "none")) {
    out.security = SecurityKind::kNone;
  } else if (iequals(sec, "tls")) {
    out.security = SecurityKind::kTls;
    if (inbound && stream.get("tlsSettings").absent()) {
      security.error("a TLS inbound needs tlsSettings with a certificate");
    }
  } else if (iequals(sec, "reality")) {
    out.security = SecurityKind::kReality;
    security.error(fmt::format("{} not supported yet", show(security.json())));
  } else if (iequals(sec, "xtls")) {
    security.error(fmt::format("{} removed from Xray, use tls or reality", show(security.json())));
  } else {
    security.error(
        fmt::format("{} is not a security type (none, tls, reality)", show(security.json())));
  }
  if (Value tls = stream.get("tlsSettings"); tls.present()) {
    TlsConfig built = build_tls(tls, inbound);
    if (iequals(sec, "tls")) {
      out.tls = std::move(built);
      if (inbound && out.tls.certificates.empty() && !value.diags().has_errors()) {
        tls.error("a TLS inbound needs at least one certificate (certificates)");
      }
    } else {
      tls.warning("ignored: security is not \"tls\"");
    }
  }
  if (Value reality = stream.get("realitySettings"); reality.present()) {
    check_reality(reality);
    if (!iequals(sec, "reality")) reality.warning("ignored: security is not \"reality\"");
  }

  for (std::string_view key : {"rawSettings", "tcpSettings"}) {
    Value raw = stream.get(key);
    if (raw.absent()) continue;
    if (selected == "raw") {
      build_raw(raw, out);
    } else {
      Object(raw).ignore_rest();
      raw.warning(fmt::format("ignored: network is \"{}\"", selected));
    }
  }
  for (const auto& [key, owner] : kTransportSettings) {
    Value settings = stream.get(key);
    if (settings.absent()) continue;
    Object shape(settings);  // only the shape is checked: the transport itself is rejected
    shape.ignore_rest();
    if (owner.empty()) {
      if (!settings.empty()) settings.not_supported();
    } else if (owner != selected) {
      settings.warning(fmt::format("ignored: network is \"{}\"", selected));
    }
  }
  for (std::string_view key : {"httpSettings", "quicSettings", "dsSettings"}) {
    Value legacy = stream.get(key);
    if (legacy.present()) legacy.warning("removed from Xray, ignored");
  }

  bool accept_proxy_protocol = false;
  out.sockopt = build_sockopt(stream.get("sockopt"), inbound, accept_proxy_protocol);
  out.accept_proxy_protocol = out.accept_proxy_protocol || accept_proxy_protocol;
  return out;
}

}  // namespace xsup::config
