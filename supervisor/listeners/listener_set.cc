#include "supervisor/listeners/listener_set.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "worker/runtime/server.h"

namespace xsup::supervisor::listeners {

base::Expected<ListenerSet, std::string> ListenerSet::build(
    const config::Config& config, unsigned slots, std::span<const ListenerSet* const> previous) {
  // First bind everything new into `out`; only then copy the kept sockets from `previous`.
  ListenerSet out;
  std::vector<std::pair<std::string, const Entry*>> kept;  // key, and the entry to copy
  for (std::size_t i = 0; i < config.inbounds.size(); ++i) {
    const auto& ib = config.inbounds[i];
    auto ip = worker::transport::listen_address(ib);
    if (!ip) return ib.path + ".listen: \"" + ib.listen + "\" is not an IP address";
    bool udp = worker::runtime::inbound_wants_udp(ib);
    for (std::uint16_t port : worker::transport::listen_ports(ib)) {
      std::string key = ip->to_string() + "|" + std::to_string(port);
      Entry& entry = out.entries_[key];
      entry.inbound = i;
      entry.address = ip->is_v6() ? "[" + ip->to_string() + "]" : ip->to_string();
      entry.port = port;
      const Entry* old = nullptr;
      for (const ListenerSet* set : previous) {
        if (set == nullptr || port == 0) continue;
        auto it = set->entries_.find(key);
        if (it != set->entries_.end() && it->second.tcp) {
          old = &it->second;
          break;
        }
      }
      if (old == nullptr) {
        auto tcp = worker::transport::bind_tcp(*ip, port, ib.stream.sockopt);
        if (!tcp) {
          return fmt::format("{}: cannot listen on tcp {}:{}: {}", ib.path, ip->to_string(), port,
                             tcp.error().message());
        }
        entry.tcp = std::move(*tcp);
        entry.port = worker::transport::local_port(entry.tcp.get());
      } else {
        kept.emplace_back(key, old);
      }
      std::size_t have = old != nullptr ? std::min<std::size_t>(old->udp.size(), slots) : 0;
      std::size_t want = udp ? slots : 0;
      for (std::size_t k = have; k < want; ++k) {
        auto sock = worker::transport::bind_udp(*ip, entry.port, ib.stream.sockopt, true);
        if (!sock) {
          return fmt::format("{}: cannot listen on udp {}:{}: {}", ib.path, ip->to_string(),
                             entry.port, sock.error().message());
        }
        entry.udp.push_back(std::move(*sock));
      }
    }
  }
  // Kept sockets are duplicated, not moved: until the new generation is ready the old set
  // stays whole, and dropping whichever set loses closes only its own descriptors.
  for (const auto& [key, old_entry] : kept) {
    Entry& entry = out.entries_[key];
    const Entry& old = *old_entry;
    auto dup = [](const worker::transport::ListenSocket& s) {
      return worker::transport::ListenSocket(::fcntl(s.get(), F_DUPFD_CLOEXEC, 3));
    };
    entry.tcp = dup(old.tcp);
    if (!entry.tcp) return std::string("cannot duplicate a listener: ") + std::strerror(errno);
    std::vector<worker::transport::ListenSocket> udp;
    if (worker::runtime::inbound_wants_udp(config.inbounds[entry.inbound])) {
      for (std::size_t k = 0; k < std::min<std::size_t>(old.udp.size(), slots); ++k) {
        udp.push_back(dup(old.udp[k]));
      }
      for (auto& fresh : entry.udp) udp.push_back(std::move(fresh));
    }
    entry.udp = std::move(udp);
  }
  return out;
}

std::vector<worker::runtime::ListenerRef> ListenerSet::for_slot(unsigned slot) const {
  std::vector<worker::runtime::ListenerRef> refs;
  for (const auto& [key, e] : entries_) {
    worker::runtime::ListenerRef ref;
    ref.inbound = e.inbound;
    ref.tcp = e.tcp.get();
    ref.udp = slot < e.udp.size() ? e.udp[slot].get() : -1;
    refs.push_back(ref);
  }
  return refs;
}

std::vector<std::string> ListenerSet::describe() const {
  std::vector<std::string> out;
  for (const auto& [key, e] : entries_) {
    out.push_back(fmt::format("tcp {}:{}", e.address, e.port));
    if (!e.udp.empty()) out.push_back(fmt::format("udp {}:{}", e.address, e.port));
  }
  return out;
}

}  // namespace xsup::supervisor::listeners
