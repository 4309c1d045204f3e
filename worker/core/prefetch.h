#pragma once
// Prefetch: bytes read from a client past its protocol header, held in a pooled buffer.
// The dispatcher may read more into it while sniffing; the relay sends it first.

#include <cstddef>
#include <cstdint>
#include <span>

#include "worker/core/buffer_pool.h"

namespace xsup::worker::core {

struct Prefetch {
  Buffer buffer;
  std::size_t begin = 0;
  std::size_t end = 0;

  std::span<const std::uint8_t> bytes() const {
    if (!buffer) return {};
    return {buffer.data() + begin, end - begin};
  }
  std::size_t size() const { return end - begin; }
  bool empty() const { return begin == end; }
};

}  // namespace xsup::worker::core
