#pragma once
// What a configuration needs beyond what the loader checks: an implementation for every
// protocol, and routing rules and sniffing exclusions that compile.

#include <string>
#include <vector>

#include "shared/config/model.h"

namespace xsup::supervisor {

// One message per problem, each naming its JSON path.
std::vector<std::string> check_runtime(const config::Config& config);

}  // namespace xsup::supervisor
