#include "worker/core/session.h"

#include <random>

namespace xsup::worker::core {

std::uint64_t Session::next_id() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uint64_t id = 0;
  while (id == 0) id = rng() % 10'000'000'000ull;
  return id;
}

}  // namespace xsup::worker::core
