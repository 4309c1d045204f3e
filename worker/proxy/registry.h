#pragma once
// What the protocol tables (registry.cc) hold, for checks that build nothing.

#include <string_view>

namespace xsup::worker::proxy {

bool knows_inbound(std::string_view protocol);
bool knows_outbound(std::string_view protocol);

}  // namespace xsup::worker::proxy
