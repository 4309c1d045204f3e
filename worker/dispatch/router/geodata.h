#pragma once
// geoip.dat / geosite.dat (spec/sniffing-routing.md §4): plain proto3 GeoIPList / GeoSiteList.
// Lookups walk the wire format entry by entry and decode only the entry whose code matches,
// as Xray does; every length and varint is bounded by the input, so malformed files give an
// error, never a crash or an over-read.
//
// AssetFiles holds the files' bytes by name. Workers never open files after start
// (DESIGN.md §1): the supervisor reads them and hands the bytes over with add(); read() from
// the asset directory is for start-up, `xsup test` and tools.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/error.h"
#include "shared/net/cidr.h"

namespace xsup::worker::dispatch::router {

// Domain.Type in geosite.dat (§4); values outside 0..3 are kept so callers can skip them.
enum class GeoDomainType : std::uint8_t { kPlain = 0, kRegex = 1, kDomain = 2, kFull = 3 };

struct GeoSiteDomain {
  std::uint64_t type = 0;               // a GeoDomainType when <= 3
  std::string value;                    // as stored
  std::vector<std::string> attributes;  // attribute keys, as stored
};

// The CIDRs of the GeoIP entry whose code equals `code` exactly (callers upper-case it).
// Errors: kUnsupported "code not found", kProtocol for a malformed file or CIDR.
base::Expected<std::vector<net::Cidr>> find_geoip(std::string_view file, std::string_view code);

// The domains of the GeoSite entry whose code equals `code` exactly. Same errors.
base::Expected<std::vector<GeoSiteDomain>> find_geosite(std::string_view file,
                                                        std::string_view code);

class AssetFiles {
 public:
  AssetFiles() = default;
  // Files not added explicitly are read from `directory` on first use (empty = none).
  explicit AssetFiles(std::filesystem::path directory) : directory_(std::move(directory)) {}

  void add(std::string name, std::string bytes);
  // The bytes of `name`; kUnsupported "asset file not found" when absent. The view stays
  // valid as long as this object lives.
  base::Expected<std::string_view> get(std::string_view name);

 private:
  std::filesystem::path directory_;
  std::map<std::string, std::string, std::less<>> files_;
};

}  // namespace xsup::worker::dispatch::router
