#include "worker/dispatch/router_adapter.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "shared/base/log.h"
#include "worker/dispatch/router/router.h"
#include "worker/transport/tcp/dialer.h"

namespace xsup::worker::dispatch {
namespace {

std::optional<asio::ip::address> ip_of(const net::Destination& d) {
  if (d.address.is_ip()) return d.address.ip();
  return std::nullopt;
}

class RuleRouter final : public Router {
 public:
  explicit RuleRouter(router::Router router) : router_(std::move(router)) {}

  awaitable<base::Expected<std::string>> pick(core::Session& session) override {
    router::RouteInput input;
    input.inbound_tag = session.inbound_tag;
    input.network = session.target.network;
    input.protocol = session.protocol;
    input.target = session.target;
    input.route_domain = session.route_domain;
    input.source_ip = ip_of(session.source);
    input.source_port = session.source.port;
    input.local_ip = ip_of(session.local);
    input.local_port = session.local.port;
    input.user = session.user;
    auto decision = router_.first_pass(input);
    if (!decision) {
      std::string domain(router::Router::domain_to_resolve(input));
      auto ips = co_await transport::tcp::resolve(net::Address::parse(domain),
                                                  config::DomainStrategy::kAsIs);
      if (!ips) log::debug(session.id, "router: {} did not resolve", domain);
      std::vector<asio::ip::address> none;
      decision = router_.second_pass(input, ips ? *ips : none);
    }
    if (decision->matched()) {
      log::debug(session.id, "router: rule {} -> {}", *decision->rule, decision->outbound_tag);
    }
    co_return decision->outbound_tag;
  }

 private:
  router::Router router_;
};

}  // namespace

std::filesystem::path asset_directory() {
  for (const char* name : {"xray.location.asset", "XRAY_LOCATION_ASSET"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  }
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::filesystem::path> candidates;
  if (!ec) candidates.push_back(exe.parent_path());
  for (const char* dir : {"/usr/local/share/xray", "/usr/share/xray", "/opt/share/xray"}) {
    candidates.emplace_back(dir);
  }
  for (const auto& dir : candidates) {
    if (std::filesystem::exists(dir / "geoip.dat", ec) ||
        std::filesystem::exists(dir / "geosite.dat", ec)) {
      return dir;
    }
  }
  return candidates.empty() ? std::filesystem::path() : candidates.front();
}

router::AssetFiles& shared_assets() {
  static router::AssetFiles assets(asset_directory());
  return assets;
}

void preload_assets(const config::Config& config) {
  router::AssetFiles& assets = shared_assets();  // finds the asset directory now
  auto note = [](std::set<std::string>& files, const std::string& entry) {
    std::string_view e = entry;
    while (!e.empty() && e.front() == '!') e.remove_prefix(1);
    if (e.starts_with("geoip:")) files.insert("geoip.dat");
    if (e.starts_with("geosite:")) files.insert("geosite.dat");
    for (std::string_view prefix : {"ext:", "ext-ip:", "ext-domain:", "ext-site:"}) {
      if (e.starts_with(prefix)) {
        e.remove_prefix(prefix.size());
        files.insert(std::string(e.substr(0, e.find(':'))));
      }
    }
  };
  std::set<std::string> files;
  for (const auto& rule : config.routing.rules) {
    for (const auto* list : {&rule.domain, &rule.ip, &rule.source_ip, &rule.local_ip}) {
      for (const auto& entry : *list) note(files, entry);
    }
  }
  for (const auto& inbound : config.inbounds) {
    for (const auto& entry : inbound.sniffing.domains_excluded) note(files, entry);
    for (const auto& entry : inbound.sniffing.ips_excluded) note(files, entry);
  }
  for (const auto& file : files) (void)assets.get(file);  // a missing file errs later
}

std::unique_ptr<Router> make_router(const config::Config& config) {
  if (config.routing.rules.empty()) return nullptr;
  std::vector<std::string> tags;
  for (const auto& ob : config.outbounds) tags.push_back(ob.tag);
  auto compiled = router::Router::compile(config.routing, tags, shared_assets());
  if (!compiled) throw std::runtime_error(compiled.error().to_string());
  return std::make_unique<RuleRouter>(std::move(*compiled));
}

}  // namespace xsup::worker::dispatch
