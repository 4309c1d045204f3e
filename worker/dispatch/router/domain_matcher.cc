#include "worker/dispatch/router/domain_matcher.h"

#include <algorithm>
#include <cctype>

namespace xsup::worker::dispatch::router {
namespace {

// Names are at most 253 bytes in DNS; a sniffed name may be longer (TLS allows 64 KiB).
// libstdc++'s regex executor recurses per input character, so over-long input is kept away
// from regular expressions (they simply do not match it) to bound stack use.
constexpr std::size_t kMaxRegexInput = 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  while (true) {
    std::size_t at = text.find(separator);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

bool try_regex(std::string_view pattern, std::regex& out) {
  try {
    out = std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript);
    return true;
  } catch (const std::regex_error&) {
    return false;
  }
}

// "dotless:s" = ^[^.]*s[^.]*$ (§3.2); s is inserted as written.
std::string dotless_pattern(std::string_view s) { return "^[^.]*" + lower(s) + "[^.]*$"; }

}  // namespace

Compiled<DomainMatcher> DomainMatcher::compile(std::span<const std::string> entries,
                                               AssetFiles& assets) {
  DomainMatcher m;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    auto fail = [&](std::string message) { return CompileError{"", i, entry, std::move(message)}; };
    std::string_view text = entry;
    auto take = [&](std::string_view prefix) {
      if (!text.starts_with(prefix)) return false;
      text.remove_prefix(prefix.size());
      return true;
    };

    if (take("regexp:")) {
      std::regex re;
      if (!try_regex(text, re)) return fail("invalid regular expression");
      m.regexes_.push_back(std::move(re));
    } else if (take("dotless:")) {
      if (text.find('.') != std::string_view::npos) return fail("dotless value contains '.'");
      std::regex re;
      if (!try_regex(dotless_pattern(text), re)) return fail("invalid dotless value");
      m.regexes_.push_back(std::move(re));
    } else if (take("domain:")) {
      if (text.empty()) return fail("empty domain");
      m.suffix_.insert(lower(text));
    } else if (take("full:")) {
      if (text.empty()) return fail("empty domain");
      m.full_.insert(lower(text));
    } else if (take("keyword:")) {
      if (text.empty()) return fail("empty keyword");
      m.substrings_.push_back(lower(text));
    } else if (text.starts_with("geosite:") || text.starts_with("ext:") ||
               text.starts_with("ext-domain:") || text.starts_with("ext-site:")) {
      // geosite:code@attrs = ext:geosite.dat:code@attrs (§3.2).
      std::string_view file = "geosite.dat";
      if (!take("geosite:")) {
        text.remove_prefix(text.find(':') + 1);
        std::size_t colon = text.find(':');
        if (colon == std::string_view::npos) return fail("expected ext:file:code");
        file = text.substr(0, colon);
        text.remove_prefix(colon + 1);
      }
      auto parts = split(text, '@');
      std::string code = upper(parts[0]);
      if (file.empty() || code.empty()) return fail("expected a file and a code");
      std::vector<std::string> attributes;
      for (std::size_t a = 1; a < parts.size(); ++a) {
        if (parts[a].empty()) return fail("empty attribute");
        attributes.push_back(lower(parts[a]));
      }
      auto bytes = assets.get(file);
      if (!bytes) return fail("geosite file not found: " + std::string(file));
      auto domains = find_geosite(*bytes, code);
      if (!domains) {
        return fail(std::string(domains.error().reason) + " in " + std::string(file) + ": " + code);
      }
      for (const GeoSiteDomain& d : *domains) {
        // Every requested attribute must be present (keys compared case-insensitively).
        bool has_all = std::all_of(attributes.begin(), attributes.end(), [&](const auto& want) {
          return std::any_of(d.attributes.begin(), d.attributes.end(),
                             [&](const auto& key) { return lower(key) == want; });
        });
        if (!has_all) continue;
        // Invalid entries inside a geosite list are skipped (§3.2).
        switch (d.type) {
          case static_cast<std::uint64_t>(GeoDomainType::kPlain):
            if (!d.value.empty()) m.substrings_.push_back(lower(d.value));
            break;
          case static_cast<std::uint64_t>(GeoDomainType::kRegex): {
            std::regex re;
            if (try_regex(d.value, re)) m.regexes_.push_back(std::move(re));
            break;
          }
          case static_cast<std::uint64_t>(GeoDomainType::kDomain):
            if (!d.value.empty()) m.suffix_.insert(lower(d.value));
            break;
          case static_cast<std::uint64_t>(GeoDomainType::kFull):
            if (!d.value.empty()) m.full_.insert(lower(d.value));
            break;
          default:
            break;
        }
      }
    } else {
      if (text.empty()) return fail("empty domain");
      m.substrings_.push_back(lower(text));
    }
  }
  return m;
}

bool DomainMatcher::empty() const {
  return full_.empty() && suffix_.empty() && substrings_.empty() && regexes_.empty();
}

bool DomainMatcher::match(std::string_view domain) const {
  if (domain.empty()) return false;
  if (has_upper(domain)) return match_lower(lower(domain));
  return match_lower(domain);
}

bool DomainMatcher::match_lower(std::string_view domain) const {
  if (domain.empty()) return false;
  if (full_.find(domain) != full_.end()) return true;
  if (!suffix_.empty()) {
    // "domain:x" matches x itself and any name ending in ".x".
    std::string_view rest = domain;
    while (true) {
      if (suffix_.find(rest) != suffix_.end()) return true;
      std::size_t dot = rest.find('.');
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
  }
  for (const std::string& s : substrings_) {
    if (domain.find(s) != std::string_view::npos) return true;
  }
  if (domain.size() <= kMaxRegexInput) {
    for (const std::regex& re : regexes_) {
      if (std::regex_search(domain.begin(), domain.end(), re)) return true;
    }
  }
  return false;
}

}  // namespace xsup::worker::dispatch::router
