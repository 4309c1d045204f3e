#pragma once
// The VMess outbound (Xray's proxy/vmess/outbound): a client of the first vnext server with
// its first user. Each connection dials the server, seals a fresh request (AuthID, random
// body key/IV, options S|M|P) and returns a ChunkStream that sends it with the first
// payload. UDP sessions get a packet stream over one VMess connection (Cmd 2) per
// destination.

#include <memory>

#include "shared/config/model.h"
#include "worker/proxy/outbound.h"
#include "worker/proxy/vmess/header.h"
#include "worker/proxy/vmess/primitives.h"

namespace xsup::worker::proxy::vmess {

class ChunkStream;

class VmessOutbound final : public Outbound {
 public:
  explicit VmessOutbound(const config::OutboundConfig& config);
  ~VmessOutbound() override;

  awaitable<Expected<core::StreamPtr>> connect(core::Session& session) override;
  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& session) override;

  // Opens one VMess connection carrying `command` to `target`.
  // (The TLS handshake under it takes the default time: the packet stream that opens one
  // per destination has no session level.)
  awaitable<Expected<std::unique_ptr<ChunkStream>>> open(Command command,
                                                         const net::Destination& target,
                                                         std::uint64_t conn);

 private:
  const config::VmessServer& server_;
  const config::VmessOutboundUser& user_;
  Bytes16 cmd_key_;
  AesBlock auth_id_key_;
  std::uint8_t security_;  // the wire nibble, `auto` resolved
  std::uint8_t options_;
};

}  // namespace xsup::worker::proxy::vmess
