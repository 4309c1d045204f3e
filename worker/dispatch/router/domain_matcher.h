#pragma once
// Domain conditions (`routing.rules[].domain`, `sniffing.domainsExcluded`),
// spec/sniffing-routing.md §3.2. An entry list compiles into four structures:
//   full:x             -> hash set, one lookup
//   domain:x           -> hash set, one lookup per label boundary of the queried name
//   plain x, keyword:x -> substring list
//   regexp:, dotless:  -> std::regex list (ECMAScript, unanchored search)
// geosite:code@attr / ext:file:code@attr expand, from a geosite file, into the same four.
// Values other than regular expressions are lower-cased at compile time; queried names are
// lower-cased before matching, so regular expressions see lower-case input.

#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "worker/dispatch/router/compile_error.h"
#include "worker/dispatch/router/geodata.h"

namespace xsup::worker::dispatch::router {

class DomainMatcher {
 public:
  // `entries` as written in the config; geosite files come from `assets`.
  static Compiled<DomainMatcher> compile(std::span<const std::string> entries, AssetFiles& assets);

  // False for an empty name. Lower-cases a name holding upper-case letters first.
  bool match(std::string_view domain) const;
  // For callers that lower-cased the name already (the router does it once per query).
  bool match_lower(std::string_view domain) const;
  bool empty() const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Set = std::unordered_set<std::string, Hash, std::equal_to<>>;

  Set full_;
  Set suffix_;
  std::vector<std::string> substrings_;
  std::vector<std::regex> regexes_;
};

}  // namespace xsup::worker::dispatch::router
