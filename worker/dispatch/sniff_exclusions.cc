#include "worker/dispatch/sniff_exclusions.h"

#include <stdexcept>

#include "worker/dispatch/router_adapter.h"

namespace xsup::worker::dispatch {

std::map<const config::SniffingConfig*, SniffExclusions> compile_sniff_exclusions(
    const config::Config& config) {
  std::map<const config::SniffingConfig*, SniffExclusions> out;
  router::AssetFiles& assets = shared_assets();
  for (const auto& inbound : config.inbounds) {
    const config::SniffingConfig& sniffing = inbound.sniffing;
    if (!sniffing.enabled) continue;
    SniffExclusions exclusions;
    auto domains = router::DomainMatcher::compile(sniffing.domains_excluded, assets);
    if (!domains) {
      domains.error().path =
          inbound.path + ".sniffing.domainsExcluded[" + std::to_string(domains.error().index) + "]";
      throw std::runtime_error(domains.error().to_string());
    }
    auto ips = router::IpMatcher::compile(sniffing.ips_excluded, assets);
    if (!ips) {
      ips.error().path =
          inbound.path + ".sniffing.ipsExcluded[" + std::to_string(ips.error().index) + "]";
      throw std::runtime_error(ips.error().to_string());
    }
    exclusions.domains = std::move(*domains);
    exclusions.ips = std::move(*ips);
    out.emplace(&sniffing, std::move(exclusions));
  }
  return out;
}

}  // namespace xsup::worker::dispatch
