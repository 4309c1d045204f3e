#include "worker/runtime/worker_protocol.h"

#include "shared/ipc/frame.h"

namespace xsup::worker::runtime {

using nlohmann::json;

json bootstrap_body(const Bootstrap& boot, std::vector<int>& fds) {
  json body = ipc::make_message(kBootstrap);
  body["generation"] = boot.generation;
  body["slot"] = boot.slot;
  body["config"] = boot.config;
  json listeners = json::array();
  for (const auto& l : boot.listener_refs) {
    json entry = {{"inbound", l.inbound}, {"tcp", -1}, {"udp", -1}};
    if (l.tcp >= 0) {
      entry["tcp"] = fds.size();
      fds.push_back(l.tcp);
    }
    if (l.udp >= 0) {
      entry["udp"] = fds.size();
      fds.push_back(l.udp);
    }
    listeners.push_back(entry);
  }
  body["listeners"] = listeners;
  body["log"] = {{"level", static_cast<int>(boot.log.level)},
                 {"error", boot.log.error_path},
                 {"access", boot.log.access_path},
                 {"access_enabled", boot.log.access_enabled},
                 {"dns_log", boot.log.dns_log},
                 {"mask_address", boot.log.mask_address}};
  body["user"] = boot.user;
  body["sandbox"] = std::string(lockdown::mode_name(boot.sandbox));
  body["keep_net_admin"] = boot.keep_net_admin;
  body["test_triggers"] = boot.test_triggers;
  body["drain_timeout_ms"] = boot.drain_timeout.count();
  body["resolver"] = dns::to_json(boot.resolver);
  body["users"] = users::to_json(boot.users);
  body["stats"] = boot.stats;
  return body;
}

base::Expected<Bootstrap> parse_bootstrap(ipc::Message& message) {
  std::array<std::string_view, 1> only = {kBootstrap};
  if (auto ok = ipc::check_envelope(message.body, only); !ok) return ok.error();
  const json& b = message.body;
  Bootstrap boot;
  try {
    boot.generation = b.at("generation").get<std::uint64_t>();
    boot.slot = b.at("slot").get<unsigned>();
    boot.config = b.at("config");
    for (const auto& entry : b.at("listeners")) {
      BoundListener l;
      l.inbound = entry.at("inbound").get<std::size_t>();
      auto take = [&](const char* key) -> transport::ListenSocket {
        auto index = entry.at(key).get<std::int64_t>();
        if (index < 0) return {};
        if (static_cast<std::size_t>(index) >= message.fds.size()) {
          throw std::out_of_range("listener fd index out of range");
        }
        return transport::ListenSocket(message.fds[static_cast<std::size_t>(index)].release());
      };
      l.tcp = take("tcp");
      l.udp = take("udp");
      boot.listeners.push_back(std::move(l));
    }
    const json& lg = b.at("log");
    boot.log.level = static_cast<log::Level>(lg.at("level").get<int>());
    boot.log.error_path = lg.at("error").get<std::string>();
    boot.log.access_path = lg.at("access").get<std::string>();
    boot.log.access_enabled = lg.at("access_enabled").get<bool>();
    boot.log.dns_log = lg.at("dns_log").get<bool>();
    boot.log.mask_address = lg.at("mask_address").get<std::string>();
    boot.user = b.at("user").get<std::string>();
    auto mode = lockdown::parse_sandbox_mode(b.at("sandbox").get<std::string>());
    if (!mode) return base::Error(base::Errc::kProtocol, "unknown sandbox mode");
    boot.sandbox = *mode;
    boot.keep_net_admin = b.at("keep_net_admin").get<bool>();
    boot.test_triggers = b.at("test_triggers").get<bool>();
    boot.drain_timeout = std::chrono::milliseconds(b.at("drain_timeout_ms").get<std::int64_t>());
    auto resolver = dns::resolver_config_from_json(b.at("resolver"));
    if (!resolver) return resolver.error();
    boot.resolver = std::move(*resolver);
    auto set = users::user_set_from_json(b.at("users"));
    if (!set) return set.error();
    boot.users = std::move(*set);
    boot.stats = b.at("stats").get<bool>();
  } catch (const std::exception&) {
    return base::Error(base::Errc::kProtocol, "bootstrap fields missing or of the wrong type");
  }
  return boot;
}

}  // namespace xsup::worker::runtime
