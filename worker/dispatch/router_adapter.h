#pragma once
// The Router the dispatcher uses, built from the configuration's `routing`.

#include <filesystem>
#include <memory>

#include "shared/config/model.h"
#include "worker/dispatch/route.h"

namespace xsup::worker::dispatch {

// Where geoip.dat / geosite.dat live, as Xray looks for them (spec/config.md §5).
std::filesystem::path asset_directory();

// nullptr when there are no rules (every connection takes the first outbound).
std::unique_ptr<Router> make_router(const config::Config& config);

}  // namespace xsup::worker::dispatch
