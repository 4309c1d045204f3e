// libFuzzer target for worker/proxy/vless/vision_codec: the unpadder must be total on any
// input, never write more than its contract allows, and give the same output whatever
// the split of its input; the TLS filter and record checks must be total too.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "worker/proxy/vless/vision_codec.h"

namespace vision = xsup::worker::proxy::vless::vision;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// The fixed UUID the seeds use.
constexpr vision::Uuid kUuid{0xb8, 0x31, 0x38, 0x1d, 0x63, 0x24, 0x4d, 0x53,
                             0xad, 0x4f, 0x8c, 0xda, 0x48, 0xb3, 0x08, 0x11};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);

  vision::Unpadder whole(kUuid);
  std::vector<std::uint8_t> one(size + 16);
  const std::size_t n = whole.unpad(in, one.data());
  check(n <= size);
  one.resize(n);

  // The same bytes split by the first byte's value, unpadded in place as the stream does.
  const std::size_t step = size == 0 ? 1 : 1 + data[0] % 29;
  vision::Unpadder split(kUuid);
  std::vector<std::uint8_t> many;
  std::vector<std::uint8_t> work(16 + step);
  for (std::size_t at = 0; at < size; at += step) {
    const std::size_t len = std::min(step, size - at);
    std::copy(data + at, data + at + len, work.begin() + 16);
    const std::size_t m = split.unpad({work.data() + 16, len}, work.data());
    check(m <= len + 16);
    many.insert(many.end(), work.begin(), work.begin() + static_cast<std::ptrdiff_t>(m));
  }
  check(many == one);
  check(split.direct() == whole.direct() && split.within_padding() == whole.within_padding());

  vision::TrafficState state;
  for (std::size_t at = 0; at < size && state.packets_to_filter > 0; at += 64) {
    vision::filter_tls(state, in.subspan(at, std::min<std::size_t>(size - at, 300)));
  }
  (void)vision::is_complete_record(in);
  if (size >= vision::kMaxContent) {
    const std::size_t cut = vision::reshape_split(in);
    check(cut > 0 && cut <= vision::kMaxContent);
  }
  return 0;
}
