#include "worker/proxy/mux/client.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/proxy/mux/connection.h"

namespace xsup::worker::proxy::mux {
namespace {

using base::Errc;
using base::Error;

// Xray's ClientStrategy.MaxConnection: sessions a connection takes in its life.
constexpr std::size_t kSessionsPerConnection = 128;
// Xray's ClientWorker closes a connection found without a session by its 16 s check.
constexpr std::chrono::seconds kIdleClose{16};
// Datagrams waiting for a UDP session's reader; more are dropped, as a socket would.
constexpr std::size_t kUdpSlots = 4;

// spec/mux.md §3: the Global ID names the client's UDP flow, so a server keeps the flow's
// outbound socket across connections. A keyed hash of the client address: stable for
// the flow, opaque to the server.
std::optional<GlobalId> global_id_for(const net::Destination& source) {
  if (source.port == 0) return std::nullopt;
  static const std::array<std::uint8_t, 16> key = [] {
    std::array<std::uint8_t, 16> k{};
    RAND_bytes(k.data(), static_cast<int>(k.size()));
    return k;
  }();
  const std::string text = source.to_string();
  std::vector<std::uint8_t> input(key.begin(), key.end());
  input.insert(input.end(), text.begin(), text.end());
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> digest;
  SHA256(input.data(), input.size(), digest.data());
  GlobalId id;
  std::copy_n(digest.begin(), id.size(), id.begin());
  return id;
}

// Datagrams from the server for one UDP session, in one pooled buffer.
class UdpQueue {
 public:
  explicit UdpQueue(const asio::any_io_executor& executor) : readable_(executor) {}

  // Drops the datagram when every slot is taken.
  void push(std::span<const std::uint8_t> datagram, const net::Destination& peer) {
    if (ended_ || count_ == kUdpSlots || datagram.size() > kMaxFrameData) return;
    if (!buffer_) buffer_ = core::BufferPool::local().acquire();
    Slot& slot = slots_[(head_ + count_) % kUdpSlots];
    const std::size_t index = (head_ + count_) % kUdpSlots;
    std::memcpy(buffer_.data() + index * kMaxFrameData, datagram.data(), datagram.size());
    slot.size = datagram.size();
    slot.peer = peer;
    ++count_;
    readable_.notify();
  }
  void end() {
    ended_ = true;
    readable_.notify();
  }

  awaitable<core::PacketResult> pop(asio::mutable_buffer out) {
    while (count_ == 0) {
      if (ended_) co_return core::PacketResult{make_error_code(asio::error::eof), 0, {}};
      co_await readable_.wait();
    }
    const Slot& slot = slots_[head_];
    const std::size_t n = std::min(out.size(), slot.size);
    std::memcpy(out.data(), buffer_.data() + head_ * kMaxFrameData, n);
    core::PacketResult result{{}, n, slot.peer};
    head_ = (head_ + 1) % kUdpSlots;
    --count_;
    co_return result;
  }

 private:
  struct Slot {
    std::size_t size = 0;
    net::Destination peer;
  };
  static_assert(kUdpSlots * kMaxFrameData <= core::BufferPool::kBufferSize);
  core::Buffer buffer_;
  std::array<Slot, kUdpSlots> slots_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool ended_ = false;
  Signal readable_;
};

class Pool;

// One carrying connection and its sessions.
class Carrier : public std::enable_shared_from_this<Carrier> {
 public:
  Carrier(core::StreamPtr stream, Pool& pool, std::uint64_t log_id)
      : stream_(std::move(stream)),
        connection_(*stream_),
        pool_(&pool),
        log_id_(log_id),
        idle_timer_(stream_->get_executor()) {}

  bool has_room(int concurrency) const {
    return !connection_.closed() && !draining_ && live_ < static_cast<std::size_t>(concurrency) &&
           opened_ < kSessionsPerConnection;
  }
  Connection& connection() { return connection_; }
  std::uint64_t log_id() const { return log_id_; }

  void start();
  // Closes now when no session is live, else once the last one ends.
  void drain() {
    draining_ = true;
    if (live_ == 0) close();
  }
  void close() {
    connection_.close();
    idle_timer_.cancel();
  }
  // The pool is going away: the connection no longer reports to it.
  void detach() { pool_ = nullptr; }

  // Registers a session and sends its New frame (a UDP session sends New with its first
  // datagram instead).
  awaitable<Expected<std::shared_ptr<SubStream>>> open_tcp(const net::Destination& target);
  std::pair<std::uint16_t, std::shared_ptr<UdpQueue>> open_udp();
  // The session's handle is gone: End once, then its ID is free.
  void finish(std::uint16_t id);

 private:
  awaitable<void> run();
  awaitable<void> watch_idle();
  std::uint16_t next_id() {
    ++opened_;
    ++live_;
    return static_cast<std::uint16_t>(opened_);
  }

  core::StreamPtr stream_;
  Connection connection_;
  Pool* pool_;  // null once the pool let go of this connection
  std::uint64_t log_id_;
  std::map<std::uint16_t, std::shared_ptr<SubStream>> tcp_;
  std::map<std::uint16_t, std::shared_ptr<UdpQueue>> udp_;
  std::size_t opened_ = 0;
  std::size_t live_ = 0;
  bool draining_ = false;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point idle_since_ = std::chrono::steady_clock::now();
};

// The connections of one outbound for one kind of traffic.
class Pool {
 public:
  explicit Pool(int concurrency) : concurrency_(concurrency) {}
  ~Pool() {
    for (auto& carrier : carriers_) {
      carrier->detach();
      carrier->close();
    }
  }
  std::shared_ptr<Carrier> pick() const {
    for (const auto& carrier : carriers_) {
      if (carrier->has_room(concurrency_)) return carrier;
    }
    return nullptr;
  }
  void add(std::shared_ptr<Carrier> carrier) { carriers_.push_back(std::move(carrier)); }
  void remove(const Carrier* carrier) {
    std::erase_if(carriers_, [carrier](const auto& c) { return c.get() == carrier; });
  }
  void drain() {
    const auto carriers = carriers_;  // drain() may close, and closing removes
    for (const auto& carrier : carriers) carrier->drain();
  }

  // One new connection at a time: sessions that find no room while it is being made wait
  // for it rather than each making its own.
  awaitable<void> wait_for_dialing() {
    while (dialing_) co_await dialed_->wait();
  }
  void begin_dialing(const asio::any_io_executor& executor) {
    if (!dialed_) dialed_.emplace(executor);
    dialing_ = true;
  }
  void end_dialing() {
    dialing_ = false;
    dialed_->notify();
  }
  bool dialing() const { return dialing_; }

 private:
  int concurrency_;
  std::vector<std::shared_ptr<Carrier>> carriers_;
  bool dialing_ = false;
  std::optional<Signal> dialed_;
};

void Carrier::start() {
  auto self = shared_from_this();
  asio::co_spawn(
      connection_.get_executor(), [self]() { return self->run(); }, asio::detached);
  asio::co_spawn(
      connection_.get_executor(), [self]() { return self->watch_idle(); }, asio::detached);
}

awaitable<Expected<std::shared_ptr<SubStream>>> Carrier::open_tcp(const net::Destination& target) {
  const std::uint16_t id = next_id();
  auto sub = std::make_shared<SubStream>(connection_, id);
  tcp_[id] = sub;
  Frame frame;
  frame.session_id = id;
  frame.status = Status::kNew;
  frame.address = target;
  frame.address->network = net::Network::kTcp;
  if (std::error_code ec = co_await connection_.write_frame(frame, {}); ec) {
    finish(id);
    co_return Error(Errc::kClosed, "mux connection: " + ec.message());
  }
  co_return sub;
}

std::pair<std::uint16_t, std::shared_ptr<UdpQueue>> Carrier::open_udp() {
  const std::uint16_t id = next_id();
  auto queue = std::make_shared<UdpQueue>(connection_.get_executor());
  udp_[id] = queue;
  return {id, queue};
}

void Carrier::finish(std::uint16_t id) {
  auto self = shared_from_this();
  asio::co_spawn(
      connection_.get_executor(),
      [self, id]() -> awaitable<void> {
        if (auto tcp = self->tcp_.find(id); tcp != self->tcp_.end()) {
          std::shared_ptr<SubStream> sub = tcp->second;
          co_await sub->send_end(false);
          sub->close();
          self->tcp_.erase(id);
        } else if (auto udp = self->udp_.find(id); udp != self->udp_.end()) {
          self->udp_.erase(udp);
          Frame frame;
          frame.session_id = id;
          frame.status = Status::kEnd;
          co_await self->connection_.write_frame(frame, {});
        }
        if (--self->live_ == 0) {
          self->idle_since_ = std::chrono::steady_clock::now();
          if (self->draining_) self->close();
        }
      },
      asio::detached);
}

awaitable<void> Carrier::watch_idle() {
  auto self = shared_from_this();
  while (!connection_.closed()) {
    idle_timer_.expires_after(kIdleClose);
    co_await idle_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (live_ == 0 && std::chrono::steady_clock::now() - idle_since_ >= kIdleClose) {
      log::debug(log_id_, "mux: connection idle, closed");
      close();
    }
  }
}

awaitable<void> Carrier::run() {
  auto self = shared_from_this();
  FrameReader in(*stream_, {});
  for (;;) {
    std::optional<Frame> next = co_await in.next();
    if (!next) break;
    const Frame frame = std::move(*next);
    const std::size_t data_size = frame.has_data() ? frame.data_size : 0;
    bool ok = true;
    if (frame.status == Status::kKeep || frame.status == Status::kNew) {
      if (auto tcp = tcp_.find(frame.session_id); tcp != tcp_.end()) {
        std::shared_ptr<SubStream> held = tcp->second;
        ok = co_await in.pass_data(held.get(), data_size);
      } else if (auto udp = udp_.find(frame.session_id);
                 udp != udp_.end() && data_size > 0 && data_size <= in.max_take()) {
        std::shared_ptr<UdpQueue> queue = udp->second;
        auto datagram = co_await in.take(data_size);
        ok = datagram.has_value();
        // v2ray 4.x names no source: the reply comes from the session's target, which
        // the handle fills in.
        if (ok) queue->push(*datagram, frame.address.value_or(net::Destination{}));
      } else {
        ok = co_await in.skip(data_size);
      }
    } else {
      if (frame.status == Status::kEnd) {
        if (auto tcp = tcp_.find(frame.session_id); tcp != tcp_.end()) {
          tcp->second->end_from_peer();
        } else if (auto udp = udp_.find(frame.session_id); udp != udp_.end()) {
          udp->second->end();
        }
      }
      ok = co_await in.skip(data_size);
    }
    if (!ok) break;
  }
  if (in.bad_frame()) log::info(log_id_, "mux: {}", in.ended_by());
  log::debug(log_id_, "mux: connection closed ({})", in.ended_by());
  if (pool_ != nullptr) pool_->remove(this);
  pool_ = nullptr;
  close();
  for (auto& [id, sub] : tcp_) sub->close();
  for (auto& [id, queue] : udp_) queue->end();
}

// A TCP session: the dispatcher relays the client against it.
class TcpHandle final : public core::Stream {
 public:
  TcpHandle(std::shared_ptr<Carrier> carrier, std::shared_ptr<SubStream> sub)
      : carrier_(std::move(carrier)), sub_(std::move(sub)) {}
  ~TcpHandle() override { carrier_->finish(sub_->id()); }

  asio::any_io_executor get_executor() override { return sub_->get_executor(); }
  awaitable<std::error_code> wait_readable() override { return sub_->wait_readable(); }
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override {
    return sub_->read_some(buffer);
  }
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override {
    return sub_->write(buffers);
  }
  awaitable<std::error_code> shutdown_send() override { return sub_->shutdown_send(); }
  void close() override { sub_->close(); }

 private:
  std::shared_ptr<Carrier> carrier_;
  std::shared_ptr<SubStream> sub_;
};

// A UDP session: New with the first datagram, then addressed Keep frames (XUDP).
class UdpHandle final : public core::PacketStream {
 public:
  UdpHandle(std::shared_ptr<Carrier> carrier, const core::Session& session)
      : carrier_(std::move(carrier)),
        target_(session.target),
        global_id_(global_id_for(session.source)),
        log_id_(session.id) {
    target_.network = net::Network::kUdp;
    std::tie(id_, queue_) = carrier_->open_udp();
  }
  ~UdpHandle() override { close(); }

  asio::any_io_executor get_executor() override { return carrier_->connection().get_executor(); }
  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override {
    core::PacketResult result = co_await queue_->pop(buffer);
    if (!result.ec && result.peer.port == 0) result.peer = target_;
    co_return result;
  }
  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& to) override {
    if (closed_) co_return make_error_code(asio::error::bad_descriptor);
    if (payload.size() > kMaxXudpDatagram) {
      log::debug(log_id_, "mux: udp datagram of {} bytes dropped", payload.size());
      co_return std::error_code{};
    }
    Frame frame;
    frame.session_id = id_;
    frame.option = kOptionData;
    frame.data_size = payload.size();
    if (!new_sent_) {
      frame.status = Status::kNew;
      frame.address = target_;
      frame.global_id = global_id_;
      new_sent_ = true;
    } else {
      frame.status = Status::kKeep;
      frame.address = to;
      frame.address->network = net::Network::kUdp;
    }
    co_return co_await carrier_->connection().write_frame(frame, payload);
  }
  void close() override {
    if (closed_) return;
    closed_ = true;
    queue_->end();
    carrier_->finish(id_);
  }

 private:
  std::shared_ptr<Carrier> carrier_;
  net::Destination target_;
  std::optional<GlobalId> global_id_;
  std::uint64_t log_id_;
  std::uint16_t id_ = 0;
  std::shared_ptr<UdpQueue> queue_;
  bool new_sent_ = false;
  bool closed_ = false;
};

class MuxClient final : public Outbound {
 public:
  MuxClient(const config::OutboundConfig& config, std::unique_ptr<Outbound> inner)
      : Outbound(config),
        inner_(std::move(inner)),
        tcp_pool_(config.mux.concurrency),
        udp_pool_(config.mux.xudp_concurrency) {}

  awaitable<Expected<core::StreamPtr>> connect(core::Session& session) override {
    const config::MuxConfig& mux = config_.mux;
    if (mux.concurrency < 0) co_return co_await inner_->connect(session);
    auto carrier = co_await carrier_for(tcp_pool_, session);
    if (!carrier) co_return carrier.error();
    auto sub = co_await (*carrier)->open_tcp(session.target);
    if (!sub) co_return sub.error();
    log::debug(session.id, "mux: {} as session {} of connection {}", session.target.to_string(),
               (*sub)->id(), (*carrier)->log_id());
    co_return core::StreamPtr(std::make_unique<TcpHandle>(std::move(*carrier), std::move(*sub)));
  }

  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& session) override {
    const config::MuxConfig& mux = config_.mux;
    if (session.target.port == 443) {
      if (mux.udp443 == config::MuxConfig::Udp443::kReject) {
        co_return Error(Errc::kBlocked, "mux: UDP/443 refused (xudpProxyUDP443 is reject)");
      }
      if (mux.udp443 == config::MuxConfig::Udp443::kSkip) {
        co_return co_await inner_->open_packets(session);
      }
    }
    const bool own_pool = mux.xudp_concurrency > 0;
    if (mux.xudp_concurrency < 0 || (!own_pool && mux.concurrency < 0)) {
      co_return co_await inner_->open_packets(session);
    }
    Pool& pool = own_pool ? udp_pool_ : tcp_pool_;
    auto carrier = co_await carrier_for(pool, session);
    if (!carrier) co_return carrier.error();
    co_return core::PacketStreamPtr(std::make_unique<UdpHandle>(std::move(*carrier), session));
  }

  void drain() override {
    tcp_pool_.drain();
    udp_pool_.drain();
    inner_->drain();
  }

 private:
  awaitable<Expected<std::shared_ptr<Carrier>>> carrier_for(Pool& pool,
                                                            const core::Session& session) {
    while (pool.dialing()) co_await pool.wait_for_dialing();
    if (auto carrier = pool.pick()) co_return carrier;
    pool.begin_dialing(co_await asio::this_coro::executor);
    struct Dialing {  // ends even when the dial throws (a cancelled session)
      Pool& pool;
      ~Dialing() { pool.end_dialing(); }
    } dialing{pool};
    core::Session carrying = session;
    carrying.id = core::Session::next_id();
    carrying.target =
        net::Destination{net::Network::kTcp, net::Address::parse(kMuxCoolDomain), kMuxCoolPort};
    carrying.original_target = carrying.target;
    auto stream = co_await inner_->connect(carrying);
    if (!stream) co_return stream.error();
    log::debug(session.id, "mux: new connection {} through {}", carrying.id, tag());
    auto carrier = std::make_shared<Carrier>(std::move(*stream), pool, carrying.id);
    pool.add(carrier);
    carrier->start();
    co_return carrier;
  }

  std::unique_ptr<Outbound> inner_;
  Pool tcp_pool_;
  Pool udp_pool_;
};

}  // namespace

std::unique_ptr<Outbound> make_client(const config::OutboundConfig& config,
                                      std::unique_ptr<Outbound> inner) {
  if (!config.mux.enabled) return inner;
  return std::make_unique<MuxClient>(config, std::move(inner));
}

}  // namespace xsup::worker::proxy::mux
