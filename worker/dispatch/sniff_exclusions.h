#pragma once
// An inbound's sniffing exclusions, compiled once: a sniffed domain matching
// domainsExcluded, or an original destination IP matching ipsExcluded, is not used to
// override the target (spec/sniffing-routing.md §1, §2.5).

#include <map>
#include <string>

#include "shared/config/model.h"
#include "worker/dispatch/router/domain_matcher.h"
#include "worker/dispatch/router/ip_matcher.h"

namespace xsup::worker::dispatch {

struct SniffExclusions {
  router::DomainMatcher domains;
  router::IpMatcher ips;
};

// One entry per inbound with sniffing enabled, keyed by its SniffingConfig (what a Session
// points to). Throws std::runtime_error naming the JSON path of a bad entry.
std::map<const config::SniffingConfig*, SniffExclusions> compile_sniff_exclusions(
    const config::Config& config);

}  // namespace xsup::worker::dispatch
