#pragma once
// How the router's compilers report a bad configuration entry: which entry, at which index of
// its list, and what is wrong. The caller owns the JSON path and prefixes it (DESIGN.md §6:
// "routing.rules[2].domain[1]: invalid regular expression: \"(\"").

#include <cstddef>
#include <string>

#include "shared/base/error.h"

namespace xsup::worker::dispatch::router {

struct CompileError {
  std::string path;       // JSON path of the entry, "" until a caller fills it in
  std::size_t index = 0;  // position of the entry in the list given to the compiler
  std::string entry;      // the entry as written
  std::string message;    // static-ish reason, may carry detail ("code not found: CN")

  // "path: message: "entry"" (parts that are empty are left out).
  std::string to_string() const;
};

// A compiled value or the first CompileError.
template <class T>
using Compiled = base::Expected<T, CompileError>;

}  // namespace xsup::worker::dispatch::router
