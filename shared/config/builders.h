#pragma once
// The per-section builders behind loader.cc. Each reads one JSON object through the
// path-carrying reader and reports problems into its diagnostics.

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/model.h"
#include "shared/config/reader.h"

namespace xsup::config {

// The 11 sockopt/freedom/targetStrategy values, case-insensitive (spec/sockopt.md §1).
std::optional<DomainStrategy> parse_domain_strategy(std::string_view text);
// Reads a domainStrategy-shaped value; an error and nullopt for an unknown name.
std::optional<DomainStrategy> read_domain_strategy(const Value& value);

// streamSettings of an inbound (inbound = true) or an outbound.
StreamSettings build_stream(const Value& value, bool inbound);
// sniffing of an inbound.
SniffingConfig build_sniffing(const Value& value);

// A VLESS or VMess user id (spec/vless.md §2): a UUID in text, or a 1–30 byte alias that
// stands for the version-5 UUID Xray derives from it; nullopt after an error.
std::optional<std::array<std::uint8_t, 16>> read_id(const Value& value);

// The `address` and `port` of an outbound's server object (vnext[i], servers[i], or the
// settings themselves in Xray's flat form); nullopt after an error.
std::optional<net::Destination> read_address_port(Object& object);

// settings of a shadowsocks inbound / outbound (shared/config/shadowsocks.cc).
ShadowsocksInbound build_shadowsocks_inbound(Object& settings);
ShadowsocksOutbound build_shadowsocks_outbound(Object& settings);
// settings of the VLESS and Trojan inbounds and outbounds (vless_trojan.cc).
std::vector<Fallback> build_fallbacks(const Value& value);
VlessInbound build_vless_inbound(Object& settings);
// A Vision flow on a VLESS user needs TLS directly over raw TCP (spec/vision.md §1): an
// error at the user's flow otherwise. `settings` is the VLESS settings object.
void check_vision_stream(const Value& settings, const StreamSettings& stream, bool inbound);
TrojanInbound build_trojan_inbound(Object& settings);
VlessOutbound build_vless_outbound(Object& settings);
TrojanOutbound build_trojan_outbound(Object& settings);

// VMess inbound settings / outbound settings (shared/config/vmess.cc); nullopt after an
// error.
VmessInbound build_vmess_inbound(Object& settings);
std::optional<VmessOutbound> build_vmess_outbound(Object& settings);

void build_inbounds(const Value& value, Config& config);
void build_outbounds(const Value& value, Config& config);
// outbound_tags: every tag in the outbounds section, rejected outbounds included, so that
// a rule is not reported as dangling just because its outbound is not supported yet.
void build_routing(const Value& value, Config& config, const std::set<std::string>& outbound_tags);

// A string list (array or comma-separated string) whose entries are checked one by one,
// each error naming the entry's own path ("...ip[2]").
std::vector<std::string> read_entries(const Value& value,
                                      bool (*check)(const Value&, const std::string&));
// Checks one routing-style domain entry ("regexp:", "full:", "geosite:", plain...).
bool check_domain_entry(const Value& where, const std::string& entry);
// Checks one routing-style IP entry ("!"-prefixes, CIDR, "geoip:", "ext:").
bool check_ip_entry(const Value& where, const std::string& entry);

}  // namespace xsup::config
