#include "worker/dispatch/router/router.h"

#include <algorithm>
#include <cctype>

namespace xsup::worker::dispatch::router {
namespace {

constexpr std::string_view kRegexpPrefix = "regexp:";

std::string rule_path(const config::RoutingRule& rule, std::size_t index) {
  if (!rule.path.empty()) return rule.path;
  return "routing.rules[" + std::to_string(index) + "]";
}

// Fills in the JSON path of a matcher's error: "<rule>.<field>[<index>]".
CompileError at(CompileError error, const std::string& rule, std::string_view field) {
  error.path = rule + "." + std::string(field) + "[" + std::to_string(error.index) + "]";
  return error;
}

bool ports_match(const std::optional<net::PortList>& list, std::uint16_t port) {
  return !list || list->contains(port);
}

}  // namespace

Compiled<Router> Router::compile(const config::RoutingConfig& config,
                                 std::span<const std::string> outbound_tags, AssetFiles& assets) {
  Router router;
  router.strategy_ = config.domain_strategy;
  router.outbounds_.insert(outbound_tags.begin(), outbound_tags.end());
  for (std::size_t i = 0; i < config.rules.size(); ++i) {
    const config::RoutingRule& in = config.rules[i];
    const std::string path = rule_path(in, i);
    Rule rule;
    if (in.outbound_tag.empty() && in.balancer_tag.empty()) {
      return CompileError{path, 0, "", "rule has neither outboundTag nor balancerTag"};
    }
    // outboundTag wins when both are set (§3).
    rule.outbound_tag = in.outbound_tag;
    if (in.outbound_tag.empty()) rule.balancer_tag = in.balancer_tag;
    rule.inbound_tags = in.inbound_tag;
    if (in.network) rule.networks = *in.network;
    rule.protocols = in.protocol;
    rule.port = in.port;
    rule.source_port = in.source_port;
    rule.local_port = in.local_port;
    rule.has_user = !in.user.empty();
    for (const std::string& user : in.user) {
      if (!user.starts_with(kRegexpPrefix)) {
        rule.users.push_back(user);
        continue;
      }
      // Invalid user regular expressions are ignored, as in Xray (§3.1 #9).
      try {
        rule.user_regexes.emplace_back(user.substr(kRegexpPrefix.size()), std::regex::ECMAScript);
      } catch (const std::regex_error&) {
      }
    }
    if (!in.ip.empty()) {
      auto m = IpMatcher::compile(in.ip, assets);
      if (!m) return at(std::move(m.error()), path, "ip");
      rule.ip = std::move(*m);
      router.has_ip_rule_ = true;
    }
    if (!in.source_ip.empty()) {
      auto m = IpMatcher::compile(in.source_ip, assets);
      if (!m) return at(std::move(m.error()), path, "sourceIP");
      rule.source_ip = std::move(*m);
    }
    if (!in.local_ip.empty()) {
      auto m = IpMatcher::compile(in.local_ip, assets);
      if (!m) return at(std::move(m.error()), path, "localIP");
      rule.local_ip = std::move(*m);
    }
    if (!in.domain.empty()) {
      auto m = DomainMatcher::compile(in.domain, assets);
      if (!m) return at(std::move(m.error()), path, "domain");
      rule.domain = std::move(*m);
    }
    bool has_condition = !rule.inbound_tags.empty() || !rule.networks.empty() ||
                         !rule.protocols.empty() || rule.port || rule.source_port ||
                         rule.local_port || rule.has_user || rule.ip || rule.source_ip ||
                         rule.local_ip || rule.domain;
    if (!has_condition) return CompileError{path, 0, "", "rule has no condition"};
    router.rules_.push_back(std::move(rule));
  }
  return router;
}

std::string_view Router::domain_to_resolve(const RouteInput& input) {
  if (!input.route_domain.empty()) return input.route_domain;
  if (input.target.address.is_domain()) return input.target.address.domain();
  return {};
}

// Fields in Xray's evaluation order (§3.1); the order matters because reaching the IP
// condition is what triggers resolution under IPOnDemand.
Router::Verdict Router::evaluate(const Rule& rule, const RouteInput& input,
                                 const View& view) const {
  if (!rule.inbound_tags.empty()) {
    // An empty inbound tag never matches.
    if (input.inbound_tag.empty() || std::find(rule.inbound_tags.begin(), rule.inbound_tags.end(),
                                               input.inbound_tag) == rule.inbound_tags.end()) {
      return Verdict::kNoMatch;
    }
  }
  if (!rule.networks.empty() &&
      std::find(rule.networks.begin(), rule.networks.end(), input.network) == rule.networks.end()) {
    return Verdict::kNoMatch;
  }
  if (!rule.protocols.empty()) {
    // Prefix match, so "http" covers "http1"; no sniff result never matches.
    if (input.protocol.empty() ||
        std::none_of(rule.protocols.begin(), rule.protocols.end(),
                     [&](const std::string& p) { return input.protocol.starts_with(p); })) {
      return Verdict::kNoMatch;
    }
  }
  if (!ports_match(rule.port, input.target.port)) return Verdict::kNoMatch;
  if (!ports_match(rule.source_port, input.source_port)) return Verdict::kNoMatch;
  if (!ports_match(rule.local_port, input.local_port)) return Verdict::kNoMatch;
  if (rule.has_user) {
    if (input.user.empty()) return Verdict::kNoMatch;
    bool found =
        std::find(rule.users.begin(), rule.users.end(), input.user) != rule.users.end() ||
        std::any_of(rule.user_regexes.begin(), rule.user_regexes.end(), [&](const auto& re) {
          return std::regex_search(input.user.begin(), input.user.end(), re);
        });
    if (!found) return Verdict::kNoMatch;
  }
  if (rule.ip) {
    if (view.ip.need_ips_on_ip_rule) return Verdict::kNeedIps;
    if (!rule.ip->match_any(view.ip.ips)) return Verdict::kNoMatch;
  }
  if (rule.source_ip && (!input.source_ip || !rule.source_ip->match(*input.source_ip))) {
    return Verdict::kNoMatch;
  }
  if (rule.local_ip && (!input.local_ip || !rule.local_ip->match(*input.local_ip))) {
    return Verdict::kNoMatch;
  }
  if (rule.domain && !rule.domain->match_lower(view.domain)) return Verdict::kNoMatch;
  return Verdict::kMatch;
}

RouteDecision Router::decide(std::size_t index) const {
  const Rule& rule = rules_[index];
  RouteDecision decision;
  decision.rule = index;
  decision.outbound_tag = rule.outbound_tag;
  decision.balancer_tag = rule.balancer_tag;
  decision.outbound_known = rule.outbound_tag.empty() || outbounds_.contains(rule.outbound_tag);
  return decision;
}

std::optional<RouteDecision> Router::walk(const RouteInput& input, const IpView& ips) const {
  // Domains are compared lower-cased (§3.1); a sniffed SNI may carry upper case.
  std::string_view domain = domain_to_resolve(input);
  std::string lowered;
  if (std::any_of(domain.begin(), domain.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    lowered.assign(domain);
    for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    domain = lowered;
  }
  View view{ips, domain};
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    switch (evaluate(rules_[i], input, view)) {
      case Verdict::kMatch:
        return decide(i);
      case Verdict::kNeedIps:
        return std::nullopt;
      case Verdict::kNoMatch:
        break;
    }
  }
  return RouteDecision{};
}

std::optional<RouteDecision> Router::first_pass(const RouteInput& input) const {
  // Without resolution IP rules see the target only when it is a literal IP.
  std::span<const asio::ip::address> literal;
  if (input.target.address.is_ip()) literal = {&input.target.address.ip(), 1};
  bool has_domain = !domain_to_resolve(input).empty();
  bool may_resolve = has_domain && !input.skip_resolve;

  switch (may_resolve ? strategy_ : config::RoutingStrategy::kAsIs) {
    case config::RoutingStrategy::kAsIs:
      return walk(input, IpView{literal, false});
    case config::RoutingStrategy::kIpIfNonMatch: {
      auto decision = walk(input, IpView{literal, false});
      if ((decision && decision->matched()) || !has_ip_rule_) return decision;
      return std::nullopt;  // no rule matched and there is a domain: resolve, then again
    }
    case config::RoutingStrategy::kIpOnDemand:
      return walk(input, IpView{literal, true});
  }
  return RouteDecision{};
}

RouteDecision Router::second_pass(const RouteInput& input,
                                  std::span<const asio::ip::address> resolved) const {
  std::span<const asio::ip::address> ips = resolved;
  // Resolution failed: fall back to the original IP, if the target was one (§3.4).
  if (ips.empty() && input.target.address.is_ip()) ips = {&input.target.address.ip(), 1};
  auto decision = walk(input, IpView{ips, false});
  return decision ? std::move(*decision) : RouteDecision{};
}

}  // namespace xsup::worker::dispatch::router
