#include "shared/base/error.h"

namespace xsup::base {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "xsup"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::kNeedMore: return "need more data";
      case Errc::kProtocol: return "protocol error";
      case Errc::kAuthFailed: return "authentication failed";
      case Errc::kUnsupported: return "not supported";
      case Errc::kTooLarge: return "too large";
      case Errc::kTimeout: return "timed out";
      case Errc::kBlocked: return "blocked";
      case Errc::kNoRoute: return "no route";
      case Errc::kResolveFailed: return "name resolution failed";
      case Errc::kClosed: return "closed";
    }
    return "unknown error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

std::string Error::message() const {
  if (reason.empty()) return code.message();
  if (code.category() == error_category()) return std::string(reason);
  return std::string(reason) + ": " + code.message();
}

}  // namespace xsup::base
