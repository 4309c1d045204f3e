#pragma once
// ListenerSet: every listening socket of a configuration, owned by the supervisor and kept
// across reloads by key (network, address, port), as nginx matches its listening fds. A
// TCP port is one socket all workers accept on; a UDP port is a SO_REUSEPORT group with one
// socket per worker slot, so one client flow stays in one worker (DESIGN.md §1).

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "worker/runtime/worker_protocol.h"
#include "worker/transport/listen.h"

namespace xsup::supervisor::listeners {

class ListenerSet {
 public:
  // Binds what `config` needs; a socket one of `previous` has under the same key (the
  // first that has it) is duplicated instead of bound again, so connections waiting in its
  // queue are not lost, and a port removed by one reload and added back by the next is
  // taken from the generation still draining it. Errors are one line naming the inbound's
  // JSON path.
  static base::Expected<ListenerSet, std::string> build(
      const config::Config& config, unsigned slots, std::span<const ListenerSet* const> previous);

  // The listeners a worker in `slot` gets (fds stay owned here).
  std::vector<worker::runtime::ListenerRef> for_slot(unsigned slot) const;
  // "tcp 127.0.0.1:1080", "udp 127.0.0.1:1080" for each socket, as `xsup status` shows.
  std::vector<std::string> describe() const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::size_t inbound = 0;
    std::string address;  // as bound, for messages
    std::uint16_t port = 0;
    worker::transport::ListenSocket tcp;
    std::vector<worker::transport::ListenSocket> udp;  // one per slot, or none
  };
  std::map<std::string, Entry> entries_;  // by key "ip|port"
};

}  // namespace xsup::supervisor::listeners
