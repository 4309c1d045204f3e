#pragma once
// The worker channel (DESIGN.md §3): frames of frame.h over one end of a socketpair, with
// file descriptors passed by SCM_RIGHTS, as nginx's channel does.
//
// Which message owns which fds. The sender hands a message's fds to the kernel in the same
// sendmsg() as the first byte of that message's frame, and never puts bytes of another
// frame in that call. Linux ends a stream recvmsg() right after the bytes that came with
// fds (it may start with older bytes that had none), so the message owning the fds is the
// last one whose frame begins among the bytes they arrived with. Fds that arrive with no
// frame beginning beside them break that rule and end the channel with kProtocol.
//
// Single-threaded: use a Channel from the one thread that runs its io_context. Concurrent
// send() calls from several coroutines are queued, one frame after the other; receive()
// has one caller at a time (the peer's read loop).

#include <asio/awaitable.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <vector>

#include "shared/base/error.h"
#include "shared/base/unique_fd.h"
#include "shared/ipc/frame.h"

namespace xsup::ipc {

// Fds one message may carry: a bootstrap's listeners fit with room to spare, and the
// receiver's control buffer is sized for exactly this many.
inline constexpr std::size_t kMaxFdsPerMessage = 64;

struct Message {
  nlohmann::json body;
  std::vector<base::UniqueFd> fds;  // received with MSG_CMSG_CLOEXEC
};

class Channel {
 public:
  // Takes a connected stream socket (a socketpair end) and makes it non-blocking.
  explicit Channel(asio::local::stream_protocol::socket socket);

  // The next message. Errors: kClosed when the peer closed between frames, kClosed with
  // "peer closed mid-frame" inside one, kProtocol / kTooLarge from the frame decoder or the
  // fd rule above, a system error from recvmsg. An error is final for the channel.
  asio::awaitable<base::Expected<Message>> receive();

  // Sends `body` as one frame with `fds`. The kernel duplicates them; the caller keeps its
  // own, open until send() completes. Errors after part of a frame went out are final for
  // sending, since the peer's framing is then lost. kTooLarge for a body over kMaxFrame or more
  // than kMaxFdsPerMessage fds.
  asio::awaitable<base::Status> send(const nlohmann::json& body, std::span<const int> fds = {});

  asio::local::stream_protocol::socket& socket() { return socket_; }

 private:
  struct FdBatch {
    std::uint64_t begin;  // stream offsets of the bytes the fds arrived with
    std::uint64_t end;
    std::vector<base::UniqueFd> fds;
  };

  // One non-blocking recvmsg into the decoder: bytes read (0 at EOF), nullopt when the
  // socket has nothing now, or an error.
  base::Expected<std::optional<std::size_t>> read_some();
  // Fds for the frame that occupies [begin, end) of the stream, per the rule above.
  base::Expected<std::vector<base::UniqueFd>> claim_fds(std::uint64_t begin, std::uint64_t end);
  asio::awaitable<base::Status> write_frame(const std::string& frame, std::span<const int> fds);

  asio::local::stream_protocol::socket socket_;
  FrameDecoder decoder_;
  std::deque<FdBatch> pending_fds_;
  std::uint64_t received_ = 0;  // stream offset of the next byte recvmsg will return
  std::vector<std::uint8_t> read_buffer_;
  std::optional<base::Error> receive_failed_;
  std::optional<base::Error> send_failed_;
  bool sending_ = false;
  int waiting_senders_ = 0;
  asio::steady_timer send_turn_;  // never expires; cancel() wakes senders waiting a turn
};

// Blocking helpers for start-up code that runs before any io_context (the supervisor
// writing a bootstrap before exec, a worker reading it before its loop). They work on
// blocking or non-blocking fds.
base::Status send_blocking(int fd, const nlohmann::json& body, std::span<const int> fds = {});
// Reads exactly one frame, one byte-range at a time so nothing after it is consumed; the
// caller hands the fd to a Channel afterwards. kTimeout when `timeout` passes first.
base::Expected<Message> receive_blocking(int fd, std::chrono::milliseconds timeout);

}  // namespace xsup::ipc
