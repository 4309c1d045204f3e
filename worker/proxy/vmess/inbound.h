#pragma once
// The VMess inbound (Xray's proxy/vmess/inbound): one coroutine per connection reads the
// request under the policy's handshake deadline, finds the user by AuthID (UserTable),
// checks time, replay and header, then hands a ChunkStream to the dispatcher (TCP) or
// relays datagrams through a packet stream from the dispatcher (UDP, one chunk per
// datagram, the destination fixed by the header).
//
// A connection that fails authentication is not closed at once: it is read on for a
// random number of bytes and a random time (spec/vmess.md §2 "drains"), so a prober cannot
// tell from the close when the server gave up.

#include <chrono>
#include <memory>

#include "shared/config/model.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/mux/server.h"
#include "worker/proxy/vmess/header.h"
#include "worker/proxy/vmess/replay_filter.h"
#include "worker/proxy/vmess/users.h"

namespace xsup::worker::proxy::vmess {

class ChunkStream;

class VmessInbound final : public Inbound {
 public:
  explicit VmessInbound(const InboundContext& context);
  ~VmessInbound() override;

  awaitable<void> serve(core::StreamPtr stream, core::Session session) override;

  // The user table: the config's clients, then the store's users of this inbound's tag.
  // It is rebuilt when the worker's user directory changes (a push from the supervisor);
  // connections already authenticated keep the table they started with.
  const UserTablePtr& users();

 private:
  awaitable<void> drain(core::Stream& stream);
  awaitable<void> relay_packets(core::Session& session, ChunkStream& stream);

  InboundContext context_;
  const config::VmessInbound& settings_;
  UserTablePtr users_;
  std::uint64_t users_version_ = 0;
  ReplayFilter<16> auth_ids_;  // AuthIDs seen (spec/vmess.md §2: 120 s)
  ReplayFilter<48> sessions_;  // UUID ‖ BodyKey ‖ BodyIV seen (§3.1: 3 minutes)
  mux::XudpTable xudp_;        // XUDP sessions parked between Mux.Cool connections
};

}  // namespace xsup::worker::proxy::vmess
