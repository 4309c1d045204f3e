#include "shared/ipc/channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace xsup::ipc {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// One recvmsg's worth: large enough that a multi-megabyte bootstrap takes few calls.
constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
// Legitimately at most two batches wait for their frame: the one that arrived with the
// frame still being assembled, and the newest. More means fds with no frame start.
constexpr std::size_t kMaxPendingBatches = 2;

// Room for the most fds a message may carry, aligned as the cmsg macros require.
union ControlBuffer {
  char bytes[CMSG_SPACE(kMaxFdsPerMessage * sizeof(int))];
  cmsghdr align;
};

base::Error system_error(int err, std::string_view reason) {
  return {std::error_code(err, std::system_category()), reason};
}

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// One sendmsg of `data` with `fds` attached (none when empty). Returns bytes sent or -errno.
ssize_t send_chunk(int fd, const char* data, std::size_t size, std::span<const int> fds) {
  iovec iov{const_cast<char*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ControlBuffer control;
  if (!fds.empty()) {
    std::memset(&control, 0, sizeof(control));
    msg.msg_control = &control;
    msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* header = CMSG_FIRSTHDR(&msg);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(header), fds.data(), fds.size() * sizeof(int));
  }
  const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  return n >= 0 ? n : -errno;
}

struct Chunk {
  ssize_t result = 0;  // bytes read, 0 at EOF, or -errno
  std::vector<base::UniqueFd> fds;
  bool truncated = false;  // the kernel dropped fds that did not fit the control buffer
};

// One non-blocking recvmsg. Received fds are close-on-exec from the start, so a concurrent
// fork+exec elsewhere in the process cannot inherit them.
Chunk receive_chunk(int fd, std::uint8_t* data, std::size_t size) {
  iovec iov{data, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ControlBuffer control;
  msg.msg_control = &control;
  msg.msg_controllen = sizeof(control);
  Chunk chunk;
  chunk.result = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (chunk.result < 0) {
    chunk.result = -errno;
    return chunk;
  }
  chunk.truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  for (cmsghdr* header = CMSG_FIRSTHDR(&msg); header; header = CMSG_NXTHDR(&msg, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      chunk.fds.emplace_back(received);
    }
  }
  return chunk;
}

base::Status check_outgoing(const nlohmann::json& body, const std::string& frame,
                            std::span<const int> fds) {
  // The peer's decoder rejects anything else; refusing here names the sender's mistake.
  if (!body.is_object()) return {base::Errc::kProtocol, "message is not an object"};
  if (fds.size() > kMaxFdsPerMessage)
    return {base::Errc::kTooLarge, "too many fds for one message"};
  if (frame.size() - kFrameHeaderSize > kMaxFrame) {
    return {base::Errc::kTooLarge, "message over the frame size limit"};
  }
  return {};
}

// Waits for `events` on `fd` until `deadline`; kTimeout when it passes first.
base::Status poll_until(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {base::Errc::kTimeout, "ipc receive timed out"};
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready > 0) return {};
    if (ready < 0 && errno != EINTR) return system_error(errno, "ipc poll");
  }
}

}  // namespace

Channel::Channel(asio::local::stream_protocol::socket socket)
    : socket_(std::move(socket)),
      read_buffer_(kReadChunk),
      send_turn_(socket_.get_executor(), asio::steady_timer::time_point::max()) {
  // sendmsg/recvmsg go to the fd directly, so the fd itself must not block.
  socket_.native_non_blocking(true);
}

base::Expected<std::optional<std::size_t>> Channel::read_some() {
  Chunk chunk;
  do {
    chunk = receive_chunk(socket_.native_handle(), read_buffer_.data(), read_buffer_.size());
  } while (chunk.result == -EINTR);
  if (chunk.result < 0) {
    const int err = static_cast<int>(-chunk.result);
    if (would_block(err)) return std::optional<std::size_t>{};
    return system_error(err, "ipc receive");
  }
  if (chunk.truncated) return base::Error(base::Errc::kTooLarge, "too many fds for one message");
  const auto size = static_cast<std::size_t>(chunk.result);
  if (!chunk.fds.empty()) {
    if (size == 0) return base::Error(base::Errc::kProtocol, "fds without bytes");
    pending_fds_.push_back({received_, received_ + size, std::move(chunk.fds)});
    if (pending_fds_.size() > kMaxPendingBatches) {
      return base::Error(base::Errc::kProtocol, "fds without a frame start");
    }
  }
  received_ += size;
  decoder_.feed(std::span<const std::uint8_t>(read_buffer_.data(), size));
  return std::optional<std::size_t>(size);
}

base::Expected<std::vector<base::UniqueFd>> Channel::claim_fds(std::uint64_t begin,
                                                               std::uint64_t end) {
  std::vector<base::UniqueFd> fds;
  while (!pending_fds_.empty()) {
    FdBatch& batch = pending_fds_.front();
    // A batch reaching past this frame holds the start of a later frame (at `end`), which
    // is then the last frame beginning among its bytes: it stays for that one.
    if (batch.begin >= end || batch.end > end) break;
    // No later frame begins among these bytes, so this frame must.
    if (batch.begin > begin || begin >= batch.end || !fds.empty()) {
      return base::Error(base::Errc::kProtocol, "fds without a frame start");
    }
    fds = std::move(batch.fds);
    pending_fds_.pop_front();
  }
  return fds;
}

asio::awaitable<base::Expected<Message>> Channel::receive() {
  auto fail = [this](base::Error error) {
    receive_failed_ = error;
    pending_fds_.clear();  // close what no message will own
    return error;
  };
  for (;;) {
    if (receive_failed_) co_return *receive_failed_;
    const std::uint64_t begin = decoder_.consumed();
    auto next = decoder_.next();
    if (!next) co_return fail(next.error());
    if (next->has_value()) {
      auto fds = claim_fds(begin, decoder_.consumed());
      if (!fds) co_return fail(fds.error());
      co_return Message{std::move(**next), std::move(*fds)};
    }
    auto got = read_some();
    if (!got) co_return fail(got.error());
    if (!got->has_value()) {
      // Only now: the reactor is edge-triggered, and bytes already buffered before the
      // wait began would raise no new edge.
      auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_read, kTuple);
      if (ec) co_return fail(base::Error(ec, "ipc receive"));
      continue;
    }
    if (**got == 0) {
      const bool mid_frame = decoder_.buffered() > 0;
      co_return fail(base::Error(base::Errc::kClosed, mid_frame ? "peer closed mid-frame" : ""));
    }
  }
}

asio::awaitable<base::Status> Channel::send(const nlohmann::json& body, std::span<const int> fds) {
  const std::string frame = encode_frame(body);
  if (auto ok = check_outgoing(body, frame, fds); !ok) co_return ok;
  // One frame at a time: a sender that waits for the socket must not let another
  // coroutine's bytes in between its own.
  while (sending_) {
    ++waiting_senders_;
    co_await send_turn_.async_wait(kTuple);
    --waiting_senders_;
  }
  if (send_failed_) co_return *send_failed_;
  sending_ = true;
  struct Turn {
    Channel& channel;
    ~Turn() {
      channel.sending_ = false;
      if (channel.waiting_senders_ > 0) channel.send_turn_.cancel();
    }
  } turn{*this};
  auto sent = co_await write_frame(frame, fds);
  if (!sent) send_failed_ = sent.error();  // part of a frame may be out: framing is lost
  co_return sent;
}

asio::awaitable<base::Status> Channel::write_frame(const std::string& frame,
                                                   std::span<const int> fds) {
  std::size_t offset = 0;
  while (offset < frame.size()) {
    // Fds ride with the frame's first byte and only there (see the header).
    const auto with = offset == 0 ? fds : std::span<const int>();
    const ssize_t n =
        send_chunk(socket_.native_handle(), frame.data() + offset, frame.size() - offset, with);
    if (n > 0) {
      offset += static_cast<std::size_t>(n);
      continue;
    }
    const int err = n < 0 ? static_cast<int>(-n) : EPIPE;
    if (err == EINTR) continue;
    if (!would_block(err)) co_return system_error(err, "ipc send");
    auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_write, kTuple);
    if (ec) co_return base::Error(ec, "ipc send");
  }
  co_return base::Status{};
}

base::Status send_blocking(int fd, const nlohmann::json& body, std::span<const int> fds) {
  const std::string frame = encode_frame(body);
  if (auto ok = check_outgoing(body, frame, fds); !ok) return ok;
  std::size_t offset = 0;
  while (offset < frame.size()) {
    const auto with = offset == 0 ? fds : std::span<const int>();
    const ssize_t n = send_chunk(fd, frame.data() + offset, frame.size() - offset, with);
    if (n > 0) {
      offset += static_cast<std::size_t>(n);
      continue;
    }
    const int err = n < 0 ? static_cast<int>(-n) : EPIPE;
    if (err == EINTR) continue;
    if (!would_block(err)) return system_error(err, "ipc send");
    pollfd entry{fd, POLLOUT, 0};
    if (::poll(&entry, 1, -1) < 0 && errno != EINTR) return system_error(errno, "ipc poll");
  }
  return {};
}

base::Expected<Message> receive_blocking(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  FrameDecoder decoder;
  Message message;
  std::vector<std::uint8_t> buffer(kFrameHeaderSize);
  std::size_t wanted = kFrameHeaderSize;  // bytes of the current part (header, then text)
  std::size_t have = 0;
  bool at_frame_start = true;
  for (;;) {
    // Never read past this frame: what follows belongs to whoever reads the fd next.
    Chunk chunk = receive_chunk(fd, buffer.data() + have, wanted - have);
    if (chunk.result < 0) {
      const int err = static_cast<int>(-chunk.result);
      if (err == EINTR) continue;
      if (!would_block(err)) return system_error(err, "ipc receive");
      if (auto ready = poll_until(fd, POLLIN, deadline); !ready) return ready.error();
      continue;
    }
    if (chunk.truncated) return base::Error(base::Errc::kTooLarge, "too many fds for one message");
    if (chunk.result == 0) {
      return base::Error(base::Errc::kClosed, at_frame_start ? "" : "peer closed mid-frame");
    }
    if (!chunk.fds.empty()) {
      if (!at_frame_start) return base::Error(base::Errc::kProtocol, "fds without a frame start");
      message.fds = std::move(chunk.fds);
    }
    at_frame_start = false;
    have += static_cast<std::size_t>(chunk.result);
    if (have < wanted) continue;

    decoder.feed(std::span<const std::uint8_t>(buffer.data(), have));
    auto next = decoder.next();
    if (!next) return next.error();
    if (next->has_value()) {
      message.body = std::move(**next);
      return message;
    }
    // The header was valid and the text is still to come.
    const std::uint8_t* h = buffer.data();
    wanted = (std::size_t{h[0]} << 24) | (std::size_t{h[1]} << 16) | (std::size_t{h[2]} << 8) |
             std::size_t{h[3]};
    buffer.assign(wanted, 0);
    have = 0;
  }
}

}  // namespace xsup::ipc
