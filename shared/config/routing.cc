// routing (spec/sniffing-routing.md §3): rules with the conditions the worker's router
// evaluates today; balancers and the Xray-only conditions are rejected.

#include <fmt/format.h>

#include <regex>
#include <set>

#include "shared/config/builders.h"
#include "shared/net/cidr.h"

namespace xsup::config {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::vector<std::string> read_entries(const Value& value,
                                      bool (*check)(const Value&, const std::string&)) {
  auto list = value.as_string_list();
  if (!list) return {};
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (value.json().is_array()) {
      check(Value(&value.json()[i], fmt::format("{}[{}]", value.path(), i), &value.diags()),
            (*list)[i]);
    } else {
      check(value, (*list)[i]);
    }
  }
  return *list;
}

bool check_domain_entry(const Value& where, const std::string& entry) {
  if (starts_with(entry, "regexp:")) {
    try {
      std::regex re(entry.substr(7), std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      where.error(fmt::format("{} is not a valid regular expression: {}", show(entry), e.what()));
      return false;
    }
    return true;
  }
  if (starts_with(entry, "dotless:") && entry.find('.', 8) != std::string::npos) {
    where.error(fmt::format("{}: a dotless pattern cannot contain \".\"", show(entry)));
    return false;
  }
  if (entry.empty()) {
    where.error("empty domain entry");
    return false;
  }
  return true;  // full:, domain:, keyword:, geosite:, ext:... and plain substrings
}

bool check_ip_entry(const Value& where, const std::string& entry) {
  std::string_view text = entry;
  while (!text.empty() && text.front() == '!') text.remove_prefix(1);  // negation toggles
  if (starts_with(text, "geoip:") || starts_with(text, "ext:") || starts_with(text, "ext-ip:")) {
    return true;
  }
  if (!net::Cidr::parse(text)) {
    where.error(fmt::format("{} is not an IP address or CIDR", show(entry)));
    return false;
  }
  return true;
}

void build_routing(const Value& value, Config& config, const std::set<std::string>& outbound_tags) {
  Object routing(value);
  Value strategy = routing.get("domainStrategy");
  if (auto s = strategy.as_string()) {
    if (iequals(*s, "AsIs") || s->empty()) {
      config.routing.domain_strategy = RoutingStrategy::kAsIs;
    } else if (iequals(*s, "IPIfNonMatch")) {
      config.routing.domain_strategy = RoutingStrategy::kIpIfNonMatch;
    } else if (iequals(*s, "IPOnDemand")) {
      config.routing.domain_strategy = RoutingStrategy::kIpOnDemand;
    } else {
      strategy.error(
          fmt::format("{} is not a routing domain strategy (AsIs, IPIfNonMatch, "
                      "IPOnDemand)",
                      show(strategy.json())));
    }
  }
  if (Value balancers = routing.get("balancers"); !balancers.empty()) balancers.not_supported();
  Value matcher = routing.get("domainMatcher");
  if (auto m = matcher.as_string(); m && !m->empty() && *m != "hybrid") {
    matcher.error(fmt::format("{} not supported yet", show(matcher.json())));
  }

  for (const auto& item : routing.get("rules").elements()) {
    Object rule(item);
    if (!rule.valid()) continue;
    RoutingRule r;
    r.path = item.path();
    bool ok = true;
    bool has_condition = false;

    Value type = rule.get("type");
    if (auto t = type.as_string(); t && *t != "field") {
      type.error(fmt::format("{} is not a rule type (field)", show(type.json())));
    }
    rule.get("ruleTag").as_string();
    Value matcher = rule.get("domainMatcher");
    if (auto m = matcher.as_string(); m && !m->empty() && *m != "hybrid") {
      matcher.error(fmt::format("{} not supported yet", show(matcher.json())));
    }

    Value outbound_tag = rule.get("outboundTag");
    rule.read("outboundTag", r.outbound_tag);
    Value balancer_tag = rule.get("balancerTag");
    if (rule.read("balancerTag", r.balancer_tag) && !r.balancer_tag.empty() &&
        r.outbound_tag.empty()) {
      balancer_tag.not_supported();
      ok = false;
    }
    if (r.outbound_tag.empty() && r.balancer_tag.empty()) {
      item.error("needs outboundTag or balancerTag");
      ok = false;
    } else if (!r.outbound_tag.empty() && outbound_tags.count(r.outbound_tag) == 0) {
      outbound_tag.warning(fmt::format(
          "no outbound is tagged {}; matching connections will be closed", show(r.outbound_tag)));
    }

    auto strings = [&](std::string_view key, std::vector<std::string>& out) {
      Value v = rule.get(key);
      if (auto list = v.as_string_list()) {
        out.insert(out.end(), list->begin(), list->end());
        has_condition = has_condition || !list->empty();
      }
    };
    strings("inboundTag", r.inbound_tag);
    strings("protocol", r.protocol);
    strings("user", r.user);

    Value network = rule.get("network");
    if (auto list = network.as_string_list()) {
      std::vector<net::Network> nets;
      for (const auto& n : *list) {
        if (iequals(n, "tcp")) {
          nets.push_back(net::Network::kTcp);
        } else if (iequals(n, "udp")) {
          nets.push_back(net::Network::kUdp);
        } else {
          network.error(fmt::format("{} is not a network (tcp, udp)", show(n)));
        }
      }
      if (!nets.empty()) {
        r.network = std::move(nets);
        has_condition = true;
      }
    }

    auto ports = [&](std::string_view key, std::optional<net::PortList>& out) {
      if (auto list = rule.get(key).as_ports(0)) {
        out = std::move(list);
        has_condition = true;
      }
    };
    ports("port", r.port);
    ports("sourcePort", r.source_port);
    ports("localPort", r.local_port);

    for (std::string_view key : {"domain", "domains"}) {
      Value v = rule.get(key);
      if (v.absent()) continue;
      auto list = read_entries(v, check_domain_entry);
      has_condition = has_condition || !list.empty();
      r.domain.insert(r.domain.end(), list.begin(), list.end());
    }
    auto ips = [&](std::string_view key, std::vector<std::string>& out) {
      Value v = rule.get(key);
      if (v.absent()) return;
      auto list = read_entries(v, check_ip_entry);
      has_condition = has_condition || !list.empty();
      out.insert(out.end(), list.begin(), list.end());
    };
    ips("ip", r.ip);
    ips("source", r.source_ip);
    ips("sourceIP", r.source_ip);
    ips("localIP", r.local_ip);

    for (std::string_view key : {"attrs", "vlessRoute", "process", "localOS", "webhook"}) {
      Value v = rule.get(key);
      if (v.empty()) continue;
      v.not_supported();
      ok = false;
    }

    if (!has_condition && ok) {
      item.error("needs at least one condition");
      ok = false;
    }
    if (ok) config.routing.rules.push_back(std::move(r));
  }
}

}  // namespace xsup::config
