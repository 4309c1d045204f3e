#include "supervisor/config_check.h"

#include <exception>

#include "worker/dispatch/router_adapter.h"
#include "worker/dispatch/sniff_exclusions.h"
#include "worker/proxy/registry.h"

namespace xsup::supervisor {

std::vector<std::string> check_runtime(const config::Config& cfg) {
  std::vector<std::string> errors;
  for (const auto& ib : cfg.inbounds) {
    if (!worker::proxy::knows_inbound(ib.protocol)) {
      errors.push_back(ib.path + ".protocol: \"" + ib.protocol + "\" not supported yet");
    }
  }
  for (const auto& ob : cfg.outbounds) {
    if (!worker::proxy::knows_outbound(ob.protocol)) {
      errors.push_back(ob.path + ".protocol: \"" + ob.protocol + "\" not supported yet");
    }
  }
  try {
    (void)worker::dispatch::make_router(cfg);
    (void)worker::dispatch::compile_sniff_exclusions(cfg);
  } catch (const std::exception& e) {
    errors.emplace_back(e.what());
  }
  return errors;
}

}  // namespace xsup::supervisor
