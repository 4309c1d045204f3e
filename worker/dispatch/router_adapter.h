#pragma once
// The Router the dispatcher uses, built from the configuration's `routing`.

#include <filesystem>
#include <memory>

#include "shared/config/model.h"
#include "worker/dispatch/route.h"
#include "worker/dispatch/router/geodata.h"

namespace xsup::worker::dispatch {

// Where geoip.dat / geosite.dat live, as Xray looks for them (spec/config.md §5).
std::filesystem::path asset_directory();

// The geo data of this process: files are read on first use, or all at once by
// preload_assets before a sandbox forbids opening files.
router::AssetFiles& shared_assets();
// Reads every geo file `config` names (geoip:, geosite:, ext:FILE:) into shared_assets().
void preload_assets(const config::Config& config);

// nullptr when there are no rules (every connection takes the first outbound).
std::unique_ptr<Router> make_router(const config::Config& config);

}  // namespace xsup::worker::dispatch
