#pragma once
// The rule router, spec/sniffing-routing.md §3: rules are walked top to bottom; a rule matches
// when ALL its condition fields match (within a field ANY entry); the first match names an
// outbound or a balancer; no match means the default (first) outbound.
//
// The router never blocks. domainStrategy (§3.4) may need the target domain resolved, which
// is the caller's job (asynchronously, A + AAAA), so routing is two-phase:
//
//   auto decision = router.first_pass(input);
//   if (!decision) {                                   // the router wants IPs for the domain
//     auto ips = co_await resolve(router.domain_to_resolve(input));   // empty on failure
//     decision = router.second_pass(input, ips);
//   }
//
//   AsIs          first_pass always decides; IP rules see only a literal IP target.
//   IPIfNonMatch  first_pass decides as AsIs when a rule matches, there is no domain, or no
//                 rule has an `ip` condition (resolving could not change the outcome);
//                 otherwise it returns nullopt and second_pass runs a full pass in which IP
//                 rules see the resolved IPs.
//   IPOnDemand    first_pass walks the rules and returns nullopt as soon as it reaches an IP
//                 condition while a domain exists (the rules before it did not match and do
//                 not depend on IPs); second_pass repeats the walk with the resolved IPs.
// In second_pass, empty `resolved` (resolution failed) means IP rules see the original IP, if
// the target was one. With `skip_resolve` set (DNS-originated queries) first_pass always
// decides.
//
// A rule naming an unknown outbound is not a compile error: Xray closes such connections at
// run time (§3.5), so the decision carries the tag and says whether it exists.

#include <asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "shared/config/model.h"
#include "shared/net/destination.h"
#include "worker/dispatch/router/compile_error.h"
#include "worker/dispatch/router/domain_matcher.h"
#include "worker/dispatch/router/geodata.h"
#include "worker/dispatch/router/ip_matcher.h"

namespace xsup::worker::dispatch::router {

struct RouteInput {
  std::string_view inbound_tag;
  net::Network network = net::Network::kTcp;
  std::string_view protocol;  // sniffed protocol ("tls", "http1", ...), empty when none
  net::Destination target;
  std::string_view route_domain;  // sniffed domain for routing (RouteTarget), may be empty
  std::optional<asio::ip::address> source_ip;
  std::uint16_t source_port = 0;
  std::optional<asio::ip::address> local_ip;
  std::uint16_t local_port = 0;
  std::string_view user;      // user email, empty when the inbound has none
  bool skip_resolve = false;  // DNS-originated query: never resolve (§3.4)
};

struct RouteDecision {
  std::optional<std::size_t> rule;  // index of the matching rule; nullopt = default outbound
  std::string outbound_tag;         // set when the rule names an outbound (it wins, §3)
  std::string balancer_tag;         // set when the rule names only a balancer
  bool outbound_known = true;       // false: outbound_tag names no configured outbound

  bool matched() const { return rule.has_value(); }
};

class Router {
 public:
  // `outbound_tags`: the configured outbounds, for RouteDecision::outbound_known. Errors carry
  // the JSON path of the offending entry ("routing.rules[2].domain[1]").
  static Compiled<Router> compile(const config::RoutingConfig& config,
                                  std::span<const std::string> outbound_tags, AssetFiles& assets);

  // Phase one; nullopt = resolve domain_to_resolve(input) and call second_pass().
  std::optional<RouteDecision> first_pass(const RouteInput& input) const;
  // Phase two, with the domain's addresses (empty when resolution failed).
  RouteDecision second_pass(const RouteInput& input,
                            std::span<const asio::ip::address> resolved) const;

  // The domain rules see: the sniffed routing domain, else the target domain, else "".
  static std::string_view domain_to_resolve(const RouteInput& input);

  config::RoutingStrategy strategy() const { return strategy_; }
  std::size_t rule_count() const { return rules_.size(); }

 private:
  struct Rule {
    std::string outbound_tag;
    std::string balancer_tag;
    std::vector<std::string> inbound_tags;
    std::vector<net::Network> networks;  // empty = any
    std::vector<std::string> protocols;
    std::optional<net::PortList> port;
    std::optional<net::PortList> source_port;
    std::optional<net::PortList> local_port;
    std::vector<std::string> users;
    std::vector<std::regex> user_regexes;
    bool has_user = false;
    std::optional<IpMatcher> ip;
    std::optional<IpMatcher> source_ip;
    std::optional<IpMatcher> local_ip;
    std::optional<DomainMatcher> domain;
  };

  enum class Verdict { kMatch, kNoMatch, kNeedIps };

  // How IP conditions see the target during a walk.
  struct IpView {
    std::span<const asio::ip::address> ips;  // what `ip` rules test
    bool need_ips_on_ip_rule = false;        // IPOnDemand first pass: stop at an IP rule
  };
  // What one walk compares against, computed once per walk.
  struct View {
    IpView ip;
    std::string_view domain;  // lower-case
  };

  Verdict evaluate(const Rule& rule, const RouteInput& input, const View& view) const;
  std::optional<RouteDecision> walk(const RouteInput& input, const IpView& ips) const;
  RouteDecision decide(std::size_t index) const;

  config::RoutingStrategy strategy_ = config::RoutingStrategy::kAsIs;
  std::vector<Rule> rules_;
  std::unordered_set<std::string> outbounds_;
  bool has_ip_rule_ = false;  // without one, resolving under IPIfNonMatch cannot change anything
};

}  // namespace xsup::worker::dispatch::router
