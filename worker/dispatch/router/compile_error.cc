#include "worker/dispatch/router/compile_error.h"

namespace xsup::worker::dispatch::router {

std::string CompileError::to_string() const {
  std::string out = path;
  if (!message.empty()) out += (out.empty() ? "" : ": ") + message;
  if (!entry.empty()) out += (out.empty() ? "\"" : ": \"") + entry + "\"";
  return out;
}

}  // namespace xsup::worker::dispatch::router
