#pragma once
// Loads Xray JSON configuration files into the model (shared/config/model.h): comments
// stripped, several files merged the Xray way (spec/config.md §3), every field either
// modelled, rejected as "not supported yet", or warned about as unknown. Nothing throws:
// problems come back as diagnostics that name the JSON path.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/model.h"
#include "shared/config/reader.h"

namespace xsup::config {

struct LoadResult {
  Config config;                        // meaningful only when ok()
  std::vector<Diagnostic> diagnostics;  // errors and warnings, in the order found
  nlohmann::json document;              // the merged document (load_files, load_text)

  bool ok() const;
  std::vector<Diagnostic> errors() const;
  std::vector<Diagnostic> warnings() const;
};

// Reads the -c files in order, then every *.json / *.jsonc in confdir ("" = none) in
// lexical order, merges them and builds the model once. `env` values are exported with
// setenv before the model is built, so "env:VAR" ports can use them.
LoadResult load_files(const std::vector<std::string>& files, const std::string& confdir);

// One configuration given as text; name is used in parse error messages.
LoadResult load_text(std::string_view text, std::string_view name);

// The merge step on its own: `overlay` (from a file called overlay_name) onto `base`.
// Sections are replaced wholesale, env merged by key, inbounds replaced by tag or appended,
// outbounds replaced by tag or prepended (appended when the file name contains "tail").
void merge_into(nlohmann::json& base, const nlohmann::json& overlay, std::string_view overlay_name);

// Builds the model from an already merged document.
LoadResult build(const nlohmann::json& document);

}  // namespace xsup::config
