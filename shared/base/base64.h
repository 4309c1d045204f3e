#pragma once
// Base64 (RFC 4648): the standard alphabet with padding (§4: HTTP Basic credentials,
// Shadowsocks 2022 keys, v2rayN links) and the URL alphabet without padding (§5: SIP002
// userinfo, REALITY keys).

#include <optional>
#include <string>
#include <string_view>

namespace xsup::base {

enum class Base64 { kStandard, kUrl };

// kStandard pads to a multiple of four characters; kUrl writes no padding.
std::string base64_encode(std::string_view bytes, Base64 alphabet = Base64::kStandard);

// Standard alphabet, padded; nullopt on any other character, a bad length or misplaced
// padding. "" decodes to "".
std::optional<std::string> base64_decode(std::string_view text);

// URL alphabet, padding optional; nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace xsup::base
