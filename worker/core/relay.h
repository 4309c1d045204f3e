#pragma once
// relay: carries bytes both ways between the client's stream and the outbound's stream
// until both directions end, with Xray's timing rules (spec/config.md §4):
//   - connIdle: no byte in either direction for this long closes both;
//   - after the client finished sending (uplink EOF) the server gets downlinkOnly of
//     inactivity before the close; after the server finished, the client gets uplinkOnly;
//   - an error on either side closes both.
// Each direction reads into a pooled buffer and writes it out before reading again
// (natural backpressure); an idle direction holds no buffer. When both ends are plain
// TCP it moves bytes with splice(2) through a pipe instead, with no copy to user space.

#include <cstdint>
#include <span>
#include <string_view>

#include "worker/core/session.h"
#include "worker/core/stream.h"
#include "worker/core/traffic.h"

namespace xsup::worker::core {

struct RelayResult {
  std::uint64_t uplink = 0;    // client -> server bytes
  std::uint64_t downlink = 0;  // server -> client bytes
  bool spliced = false;        // at least one direction used splice(2)
  std::error_code error;       // first error that ended the relay, if any
  std::string_view ended_by;   // "eof", "idle timeout", "uplink error", ...
};

// Process-wide counters of the relay, for benchmarks and logs.
struct RelayCounters {
  std::uint64_t spliced_bytes = 0;
  std::uint64_t copied_bytes = 0;
  std::uint64_t spliced_directions = 0;
};
RelayCounters& relay_counters();

// `first_uplink`: bytes already read from the client (past a header, or sniffed) that
// go to the server before anything else.
// `traffic`: the cells the moved bytes are added to as they move (payload only).
awaitable<RelayResult> relay(Stream& client, Stream& server,
                             std::span<const std::uint8_t> first_uplink, const Policy& policy,
                             TrafficCells traffic = {});

}  // namespace xsup::worker::core
