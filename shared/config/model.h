#pragma once
// The typed model of an Xray JSON configuration (spec/config.md), after loading, merging
// and validation. Only what xsup runs is modelled in detail; every other field is either
// validated and rejected as "not supported yet" by the loader, or warned about as unknown.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "shared/base/log.h"
#include "shared/net/destination.h"
#include "shared/net/port_list.h"

namespace xsup::config {

struct LogConfig {
  log::Level level = log::Level::kWarning;
  std::string access;  // "" = stderr, "none" = off
  std::string error;   // "" = stderr, "none" = off
  bool dns_log = false;
  std::string mask_address;  // "", "quarter", "half", "full"
  bool present = false;      // without a `log` section the access log is off
};

// One policy level (spec/config.md §4). Durations in whole seconds.
struct PolicyLevel {
  std::chrono::seconds handshake{60};
  std::chrono::seconds conn_idle{300};
  std::chrono::seconds uplink_only{1};
  std::chrono::seconds downlink_only{1};
  std::int32_t buffer_size_kib = 512;  // negative = unlimited
  bool stats_user_uplink = false;
  bool stats_user_downlink = false;
  bool stats_user_online = false;
};

struct PolicyConfig {
  std::map<std::uint32_t, PolicyLevel> levels;
  bool stats_inbound_uplink = false;
  bool stats_inbound_downlink = false;
  bool stats_outbound_uplink = false;
  bool stats_outbound_downlink = false;
  bool present = false;  // without a `policy` section level 1 gets connIdle 600 s

  // The level as Xray resolves it: listed -> that, else the defaults.
  PolicyLevel level(std::uint32_t n) const;
};

struct SniffingConfig {
  bool enabled = false;
  std::vector<std::string> dest_override;  // normalised: "http", "tls", "quic", "fakedns"
  std::vector<std::string> domains_excluded;
  std::vector<std::string> ips_excluded;
  bool metadata_only = false;
  bool route_only = false;
};

enum class Tproxy { kOff, kRedirect, kTproxy };
enum class DomainStrategy {
  kAsIs,
  kUseIp,
  kUseIpv4,
  kUseIpv6,
  kUseIpv4v6,
  kUseIpv6v4,
  kForceIp,
  kForceIpv4,
  kForceIpv6,
  kForceIpv4v6,
  kForceIpv6v4,
};

struct CustomSockopt {
  std::string network;  // prefix of tcp4/tcp6/udp4/udp6, "" = all
  int level = 6;
  int opt = 0;
  bool is_string = false;
  std::int64_t int_value = 0;
  std::string string_value;
};

// streamSettings.sockopt (spec/sockopt.md). Absent optionals leave the OS default.
struct SockoptConfig {
  std::uint32_t mark = 0;
  std::optional<int> tcp_fast_open;  // >0 on, <=0 forced off (true=256, false=-1)
  Tproxy tproxy = Tproxy::kOff;
  DomainStrategy domain_strategy = DomainStrategy::kAsIs;
  int tcp_keep_alive_idle = 0;
  int tcp_keep_alive_interval = 0;
  int tcp_user_timeout_ms = 0;
  std::string tcp_congestion;
  int tcp_window_clamp = 0;
  int tcp_max_seg = 0;
  std::string interface;
  bool v6only = false;
  bool tcp_mptcp = false;
  std::vector<CustomSockopt> custom;
};

enum class TransportKind { kRaw, kKcp, kWebSocket, kGrpc, kHttpUpgrade, kXhttp };
enum class SecurityKind { kNone, kTls, kReality };

// One CertificateObject with usage "encipherment": the PEM text itself, read from
// certificateFile/keyFile (when the config is built, before a worker locks down) or joined
// from the inline line arrays.
struct TlsCertificate {
  std::string certificate_pem;  // the chain, leaf first
  std::string key_pem;
  std::string path;  // JSON path, for messages
};

// tlsSettings (seeds/transport-config.md, TLSObject).
struct TlsConfig {
  std::string server_name;
  bool reject_unknown_sni = false;
  bool allow_insecure = false;
  std::vector<std::string> alpn;  // empty = the default: server ["h2","http/1.1"], client none
  std::string min_version;        // "", "1.0" .. "1.3"
  std::string max_version;
  std::string tls12_ciphers;  // cipherSuites resolved to OpenSSL names: TLS 1.2 and below
  std::string tls13_suites;   // ... and TLS 1.3
  std::vector<TlsCertificate> certificates;
  bool disable_system_root = false;
  std::vector<std::string> verify_cas;           // PEM of certificates with usage "verify"
  std::vector<std::string> pinned_chain_sha256;  // base64, pinnedPeerCertificateChainSha256
  bool enable_session_resumption = false;
  std::string master_key_log;  // NSS key-log file; "" = none
  std::string path;            // JSON path of tlsSettings, for messages
};

struct StreamSettings {
  TransportKind network = TransportKind::kRaw;
  SecurityKind security = SecurityKind::kNone;
  TlsConfig tls;
  SockoptConfig sockopt;
  bool accept_proxy_protocol = false;
};

struct Account {
  std::string user;
  std::string pass;
  std::uint32_t level = 0;
  std::string email;  // defaults to user for SOCKS/HTTP accounts
};

struct SocksInbound {
  bool auth_password = false;  // settings.auth == "password"
  std::vector<Account> accounts;
  bool udp = false;
  std::string ip;  // address announced in UDP ASSOCIATE replies; "" = the local address
  std::uint32_t user_level = 0;
};

struct HttpInbound {
  std::vector<Account> accounts;
  bool allow_transparent = false;
  std::uint32_t user_level = 0;
};

// dokodemo-door, also spelled "tunnel" (address/port or rewriteAddress/rewritePort).
struct DokodemoInbound {
  net::Address address;  // empty = keep the original destination
  std::uint16_t port = 0;
  bool tcp = true;
  bool udp = false;
  bool follow_redirect = false;
  std::uint32_t user_level = 0;
};

// One Shadowsocks user (spec/shadowsocks.md): method is the canonical shadowsocks-libev
// name ("aes-128-gcm", "aes-256-gcm", "chacha20-ietf-poly1305", "xchacha20-ietf-poly1305")
// or a 2022 name ("2022-blake3-aes-128-gcm", ...).
struct ShadowsocksUser {
  std::string method;
  std::string password;
  // 2022: the password's base64 PSKs decoded (raw bytes, key-sized), iPSK first on a
  // client; one uPSK (multi-user) or the PSK on a server.
  std::vector<std::string> psks;
  std::string email;
  std::uint32_t level = 0;
};

// One entry of settings.fallbacks of a VLESS or Trojan inbound (spec/vless.md §9.2).
struct Fallback {
  enum class Kind { kTcp, kUnix };
  std::string name;  // SNI to match, lower-case; "" = any
  std::string alpn;  // negotiated ALPN to match, lower-case; "" = any
  std::string path;  // HTTP/1 request path to match; "" = any
  Kind kind = Kind::kTcp;
  net::Destination tcp;        // kTcp: where to connect (a bare port means 127.0.0.1)
  std::string unix_path;       // kUnix: a file path, or an abstract name starting with '\0'
  int xver = 0;                // PROXY protocol version sent first: 0 none, 1 text, 2 binary
  std::string path_in_config;  // "inbounds[0].settings.fallbacks[1]", for messages
};

// A VLESS user (spec/vless.md §2): the id after string-to-UUID mapping.
struct VlessUser {
  std::array<std::uint8_t, 16> id{};
  std::string email;
  std::uint32_t level = 0;
  std::string flow;  // "", xtls-rprx-vision or xtls-rprx-vision-udp443
};

struct VlessInbound {
  std::vector<VlessUser> clients;
  std::vector<Fallback> fallbacks;
};

struct TrojanUser {
  std::string password;
  std::string email;
  std::uint32_t level = 0;
};

// settings.method/password (one user) or settings.clients (each with its own method).
struct ShadowsocksInbound {
  std::vector<ShadowsocksUser> users;
  // 2022 multi-user (AES methods): the server's iPSK (raw bytes); users carry uPSKs.
  std::string identity_psk;
  // The method the store's users take: settings.method, else the first client's; with a
  // 2022 method, the size of the key (a store user's password is its base64 uPSK).
  std::string method;
  std::size_t psk_size = 0;
  bool tcp = true;  // settings.network, "tcp" when absent (Xray)
  bool udp = false;
};

struct TrojanInbound {
  std::vector<TrojanUser> clients;
  std::vector<Fallback> fallbacks;
};

// A VMess user (spec/vmess.md §1): `id` is the UUID, raw (a 1–30 byte alias already mapped).
struct VmessUser {
  std::array<std::uint8_t, 16> id{};
  std::uint32_t level = 0;
  std::string email;
};

// The body security a VMess client asks for (spec/vmess.md §4). kAuto is resolved when the
// outbound starts: AES-128-GCM with AES hardware, else ChaCha20-Poly1305.
enum class VmessSecurity { kAes128Gcm, kChacha20Poly1305, kAuto, kNone, kZero };

struct VmessInbound {
  std::vector<VmessUser> clients;
  // xsup's switch for security none/zero clients (removed from Xray v26.7).
  bool legacy_security = false;
};

using InboundSettings = std::variant<SocksInbound, HttpInbound, DokodemoInbound, VmessInbound,
                                     ShadowsocksInbound, VlessInbound, TrojanInbound>;

struct InboundConfig {
  std::string tag;
  std::string protocol;  // normalised: "socks", "http", "dokodemo-door", "vmess",
                         // "shadowsocks", "vless", "trojan"
  std::string listen;    // IP literal; "" = 0.0.0.0
  net::PortList ports;   // at least one port
  InboundSettings settings;
  StreamSettings stream;
  SniffingConfig sniffing;
  std::string path;  // JSON path, e.g. "inbounds[2]", for messages
};

struct FreedomOutbound {
  DomainStrategy domain_strategy = DomainStrategy::kAsIs;
  std::optional<net::Destination> redirect;  // address and/or port; empty parts keep the target's
  std::uint32_t user_level = 0;
};

struct BlackholeOutbound {
  bool http_response = false;  // response.type == "http"
};

struct ProxyServer {
  net::Destination address;  // network tcp
  std::vector<Account> users;
};

struct SocksOutbound {
  std::vector<ProxyServer> servers;
};

struct HttpOutbound {
  std::vector<ProxyServer> servers;
  std::vector<std::pair<std::string, std::string>> headers;  // sent with CONNECT
};

struct ShadowsocksServer {
  net::Destination address;
  ShadowsocksUser user;
};

struct ShadowsocksOutbound {
  std::vector<ShadowsocksServer> servers;  // the first one is used
};

// settings.vnext of a VLESS outbound: the first server and its first user are used.
struct VlessServer {
  net::Destination address;  // network tcp
  std::vector<VlessUser> users;
};

struct VlessOutbound {
  std::vector<VlessServer> vnext;
};

// settings.servers of a Trojan outbound: the first server is used.
struct TrojanServer {
  net::Destination address;  // network tcp
  TrojanUser user;
};

struct TrojanOutbound {
  std::vector<TrojanServer> servers;
};

struct VmessOutboundUser {
  VmessUser user;
  VmessSecurity security = VmessSecurity::kAuto;
};

struct VmessServer {
  net::Destination address;  // network tcp
  std::vector<VmessOutboundUser> users;
};

struct VmessOutbound {
  std::vector<VmessServer> vnext;
};

using OutboundSettings =
    std::variant<FreedomOutbound, BlackholeOutbound, SocksOutbound, HttpOutbound, VmessOutbound,
                 ShadowsocksOutbound, VlessOutbound, TrojanOutbound>;

// An outbound's `mux` (Xray's MultiplexingConfig; spec/mux.md).
struct MuxConfig {
  enum class Udp443 { kReject, kAllow, kSkip };
  bool enabled = false;
  int concurrency = 8;       // sub-streams per connection; < 0: TCP goes without mux
  int xudp_concurrency = 0;  // > 0: UDP on connections of its own; < 0: UDP without mux
  Udp443 udp443 = Udp443::kReject;
};

struct OutboundConfig {
  std::string tag;
  std::string protocol;  // normalised: "freedom" ("direct"), "blackhole" ("block"), "socks", "http"
  OutboundSettings settings;
  StreamSettings stream;
  std::string send_through;  // IP literal or ""
  MuxConfig mux;
  std::string path;
};

struct RoutingRule {
  std::string outbound_tag;
  std::string balancer_tag;
  std::vector<std::string> inbound_tag;
  std::optional<std::vector<net::Network>> network;
  std::vector<std::string> protocol;
  std::optional<net::PortList> port;
  std::optional<net::PortList> source_port;
  std::optional<net::PortList> local_port;
  std::vector<std::string> user;
  std::vector<std::string>
      domain;                   // as written: "full:x", "domain:x", "regexp:x", "geosite:x", plain
  std::vector<std::string> ip;  // as written: CIDR, "geoip:x", "!..."
  std::vector<std::string> source_ip;
  std::vector<std::string> local_ip;
  std::string path;  // "routing.rules[3]"
};

enum class RoutingStrategy { kAsIs, kIpIfNonMatch, kIpOnDemand };

struct RoutingConfig {
  RoutingStrategy domain_strategy = RoutingStrategy::kAsIs;
  std::vector<RoutingRule> rules;
};

// The `xsup` object: what Xray lacks (DESIGN.md §6).
struct XsupSection {
  unsigned workers = 0;                          // 0 = CPU count
  std::string user;                              // "" = nobody when started as root
  std::string store = "/var/lib/xsup/xsup.db";   // the SQLite store (DESIGN.md §4)
  std::string public_address;                    // the host share links name
  bool stats = true;                             // count traffic per user/inbound/outbound
  std::chrono::seconds stats_flush_interval{5};  // how often totals reach the store
  std::string control_socket = "/run/xsup/control.sock";
  std::string web_listen;
  std::chrono::seconds drain_timeout{60};
};

struct Config {
  LogConfig log;
  PolicyConfig policy;
  std::vector<InboundConfig> inbounds;
  std::vector<OutboundConfig> outbounds;
  RoutingConfig routing;
  XsupSection xsup;
  std::map<std::string, std::string> env;  // the `env` section, already exported via setenv
};

}  // namespace xsup::config
