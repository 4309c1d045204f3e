#pragma once
// The server side of Mux.Cool (spec/mux.md): reads frames from one carrying stream (a
// VLESS command 0x03 body, or any stream whose target is v1.mux.cool), opens a session
// per New frame through the dispatcher (TCP as a SubStream, UDP through open_packets),
// and returns once the carrying stream has ended and every session has finished.

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string_view>

#include "worker/core/packet_stream.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"
#include "worker/proxy/mux/codec.h"

namespace xsup::worker::dispatch {
class Dispatcher;
}

namespace xsup::worker::proxy::mux {

// XUDP sessions kept across connections (spec/mux.md §3): when a connection ends under a
// session with a Global ID, its outbound UDP socket is parked here for a minute, and a New
// frame with the same ID on any connection takes it back, so the client keeps its public
// port. Held by the inbound (one per worker thread); entries past their minute are closed
// at the next park or take, so no timer keeps a draining worker alive.
class XudpTable {
 public:
  XudpTable() = default;
  XudpTable(const XudpTable&) = delete;
  XudpTable& operator=(const XudpTable&) = delete;
  ~XudpTable();

  core::PacketStreamPtr take(const GlobalId& id);
  void park(const GlobalId& id, core::PacketStreamPtr packets);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    core::PacketStreamPtr packets;
    std::chrono::steady_clock::time_point parked_at;
  };
  void sweep();
  std::map<GlobalId, Entry> entries_;
};

// `parent` is the carrying connection's session (user, level, inbound); `rest` holds
// bytes already read past the carrying protocol's header. `log_name` prefixes log lines.
asio::awaitable<void> serve(core::Stream& stream, const core::Session& parent,
                            dispatch::Dispatcher& dispatcher, XudpTable& xudp,
                            std::span<const std::uint8_t> rest, std::string_view log_name);

}  // namespace xsup::worker::proxy::mux
