#include "worker/proxy/vmess/outbound.h"

#include <openssl/rand.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/tcp_stream.h"
#include "worker/proxy/mux/codec.h"
#include "worker/proxy/vmess/chunk_stream.h"
#include "worker/proxy/vmess/vmess.h"
#include "worker/transport/dial.h"

namespace xsup::worker::proxy::vmess {
namespace {

using base::Errc;
using base::Error;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

std::uint8_t wire_security(config::VmessSecurity security) {
  switch (security) {
    case config::VmessSecurity::kAes128Gcm:
      return static_cast<std::uint8_t>(Security::kAes128Gcm);
    case config::VmessSecurity::kChacha20Poly1305:
      return static_cast<std::uint8_t>(Security::kChacha20Poly1305);
    case config::VmessSecurity::kAuto:
      return static_cast<std::uint8_t>(has_aes_gcm_hardware() ? Security::kAes128Gcm
                                                              : Security::kChacha20Poly1305);
    case config::VmessSecurity::kNone:
    case config::VmessSecurity::kZero:
      break;
  }
  return static_cast<std::uint8_t>(Security::kNone);
}

// spec/vmess.md §5: what Xray and v2ray send: S|M|P for the AEADs, S|M for none; zero is
// none without chunks.
std::uint8_t wire_options(config::VmessSecurity security) {
  switch (security) {
    case config::VmessSecurity::kNone:
      return kOptChunkStream | kOptChunkMasking;
    case config::VmessSecurity::kZero:
      return 0;
    default:
      return kOptChunkStream | kOptChunkMasking | kOptGlobalPadding;
  }
}

template <class T>
void random_fill(T& bytes) {
  RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
}

// UDP through VMess: one connection per destination (the header fixes it), made on the
// first datagram to it; replies from all of them are queued for receive(). Bounded: at
// most kMaxDestinations connections and kMaxQueued datagrams waiting. The reader
// coroutines share the state with the stream, so they may outlive it.
class VmessPacketStream final : public core::PacketStream {
 public:
  static constexpr std::size_t kMaxDestinations = 16;
  static constexpr std::size_t kMaxQueued = 64;

  VmessPacketStream(VmessOutbound& outbound, std::uint64_t session_id,
                    asio::any_io_executor executor)
      : outbound_(outbound),
        session_id_(session_id),
        executor_(executor),
        shared_(std::make_shared<Shared>(executor)) {}
  ~VmessPacketStream() override { close(); }

  asio::any_io_executor get_executor() override { return executor_; }

  void adopt(const net::Destination& to, std::unique_ptr<ChunkStream> stream) {
    start_reader(to, std::move(stream));
  }

  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override {
    std::shared_ptr<Shared> shared = shared_;
    while (shared->queue.empty()) {
      if (shared->closed || shared->links.empty()) {
        co_return core::PacketResult{asio::error::eof, 0, {}};
      }
      shared->ready.expires_at(std::chrono::steady_clock::time_point::max());
      co_await shared->ready.async_wait(kTuple);
    }
    Datagram d = std::move(shared->queue.front());
    shared->queue.pop_front();
    const std::size_t n = std::min(buffer.size(), d.size);
    std::memcpy(buffer.data(), d.data.data(), n);
    co_return core::PacketResult{{}, n, d.from};
  }

  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& to) override {
    std::shared_ptr<Shared> shared = shared_;
    if (shared->closed) co_return asio::error::operation_aborted;
    auto it = shared->links.find(to.host_port());
    if (it == shared->links.end()) {
      if (shared->links.size() >= kMaxDestinations) {
        log::debug(session_id_, "vmess: udp: {} destinations already, dropped one to {}",
                   shared->links.size(), to.host_port());
        co_return std::error_code{};
      }
      net::Destination target = to;
      target.network = net::Network::kUdp;
      auto opened = co_await outbound_.open(Command::kUdp, target, session_id_);
      if (!opened) co_return opened.error().code;
      if (shared->closed) {
        (*opened)->close();
        co_return asio::error::operation_aborted;
      }
      it = start_reader(to, std::move(*opened));
    }
    std::shared_ptr<ChunkStream> link = it->second;
    co_return co_await link->write_packet(payload);
  }

  void close() override {
    if (shared_->closed) return;
    shared_->closed = true;
    for (auto& [to, link] : shared_->links) link->close();
    shared_->ready.cancel();
  }

 private:
  struct Datagram {
    core::Buffer data;
    std::size_t size = 0;
    net::Destination from;
  };
  using Links = std::map<std::string, std::shared_ptr<ChunkStream>>;
  struct Shared {
    explicit Shared(asio::any_io_executor executor) : ready(executor) {}
    Links links;
    std::deque<Datagram> queue;
    asio::steady_timer ready;
    bool closed = false;
  };

  Links::iterator start_reader(const net::Destination& to, std::unique_ptr<ChunkStream> stream) {
    std::shared_ptr<ChunkStream> link(std::move(stream));
    auto [it, inserted] = shared_->links.emplace(to.host_port(), link);
    const std::uint64_t id = session_id_;
    asio::co_spawn(executor_, read_replies(shared_, link, to, id), [id](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error(id, "vmess: udp reader failed: {}", ex.what());
      }
    });
    return it;
  }

  static awaitable<void> read_replies(std::shared_ptr<Shared> shared,
                                      std::shared_ptr<ChunkStream> link, net::Destination from,
                                      std::uint64_t id) {
    from.network = net::Network::kUdp;
    for (;;) {
      core::Buffer buffer = core::BufferPool::local().acquire();
      auto r = co_await link->read_packet(asio::buffer(buffer.data(), buffer.capacity()));
      if (shared->closed) break;
      if (r.ec) {
        log::debug(id, "vmess: udp: {} ended: {}", from.host_port(), r.ec.message());
        break;
      }
      if (shared->queue.size() >= kMaxQueued) continue;  // the client is not reading: dropped
      shared->queue.push_back(Datagram{std::move(buffer), r.bytes, from});
      shared->ready.cancel();
    }
    link->close();
    auto it = shared->links.find(from.host_port());
    if (it != shared->links.end() && it->second == link) shared->links.erase(it);
    shared->ready.cancel();
  }

  VmessOutbound& outbound_;
  std::uint64_t session_id_;
  asio::any_io_executor executor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace

VmessOutbound::VmessOutbound(const config::OutboundConfig& config)
    : Outbound(config),
      server_(std::get<config::VmessOutbound>(config.settings).vnext.front()),
      user_(server_.users.front()),
      cmd_key_(cmd_key(user_.user.id)),
      auth_id_key_(auth_id_key(cmd_key_)),
      security_(wire_security(user_.security)),
      options_(wire_options(user_.security)) {}

VmessOutbound::~VmessOutbound() = default;

std::unique_ptr<Outbound> make_vmess_outbound(const config::OutboundConfig& config) {
  return std::make_unique<VmessOutbound>(config);
}

awaitable<Expected<std::unique_ptr<ChunkStream>>> VmessOutbound::open(
    Command command, const net::Destination& target, std::uint64_t conn) {
  RequestHeader header;
  random_fill(header.body_iv);
  random_fill(header.body_key);
  std::array<std::uint8_t, 1 + 1 + 15 + 4> random{};
  random_fill(random);
  header.response_auth = random[0];
  header.options = options_;
  header.padding = static_cast<std::uint8_t>(random[1] % 16);  // uniform 0..15 as Xray
  header.security = security_;
  header.command = command;
  header.target = target;
  std::array<std::uint8_t, kMaxHeaderSize> plain;
  const std::size_t plain_size = encode_header(header, ByteView(random.data() + 2, 15), plain);
  if (plain_size == 0) co_return Error(Errc::kProtocol, "target cannot be encoded in VMess");

  const Bytes16 auth_id = make_auth_id(auth_id_key_, static_cast<std::int64_t>(std::time(nullptr)),
                                       get_u32(random.data() + 17));
  std::array<std::uint8_t, kConnectionNonceSize> nonce;
  random_fill(nonce);
  std::array<std::uint8_t, kMaxRequestSize> sealed;
  const std::size_t sealed_size =
      seal_request(cmd_key_, auth_id, nonce, ByteView(plain.data(), plain_size), sealed);
  if (sealed_size == 0) co_return Error(Errc::kProtocol, "VMess request could not be sealed");

  auto dialled = co_await transport::dial_stream(config_, server_.address, conn, {});
  if (!dialled) co_return dialled.error();
  auto tcp = std::move(*dialled);
  co_return std::make_unique<ChunkStream>(
      std::move(tcp), ChunkStream::ClientSide{header, ByteView(sealed.data(), sealed_size)});
}

awaitable<Expected<core::StreamPtr>> VmessOutbound::connect(core::Session& session) {
  net::Destination target = session.target;
  target.network = net::Network::kTcp;
  // spec/mux.md §2: the Mux.Cool target is sent as command 3, with no address.
  auto stream =
      co_await open(mux::is_mux_target(target) ? Command::kMux : Command::kTcp, target, session.id);
  if (!stream) co_return stream.error();
  co_return core::StreamPtr(std::move(*stream));
}

awaitable<Expected<core::PacketStreamPtr>> VmessOutbound::open_packets(core::Session& session) {
  net::Destination target = session.target;
  target.network = net::Network::kUdp;
  auto stream = co_await open(Command::kUdp, target, session.id);
  if (!stream) co_return stream.error();
  auto executor = (*stream)->get_executor();
  auto packets = std::make_unique<VmessPacketStream>(*this, session.id, executor);
  packets->adopt(session.target, std::move(*stream));
  co_return core::PacketStreamPtr(std::move(packets));
}

}  // namespace xsup::worker::proxy::vmess
