#include "worker/dispatch/router_adapter.h"

namespace xsup::worker::dispatch {

std::unique_ptr<Router> make_router(const config::Config& /*config*/) { return nullptr; }

}  // namespace xsup::worker::dispatch
