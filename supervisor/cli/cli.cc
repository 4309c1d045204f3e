#include "supervisor/cli/cli.h"

#include <cstdio>

namespace xsup::supervisor::cli {

int run(int /*argc*/, char** /*argv*/) {
  std::puts("xsup " XSUP_VERSION);
  return 0;
}

}  // namespace xsup::supervisor::cli
