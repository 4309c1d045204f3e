#pragma once
// UUIDs as Xray uses them for user ids.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xsup::crypto {

using Uuid = std::array<std::uint8_t, 16>;

// A random (version 4, RFC 9562 §5.4) UUID from OpenSSL's CSPRNG.
Uuid random_uuid();
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower-case.
std::string to_string(const Uuid& uuid);
// Accepts the 36-character form, with or without dashes; nullopt otherwise.
std::optional<Uuid> parse_uuid(std::string_view text);

}  // namespace xsup::crypto
