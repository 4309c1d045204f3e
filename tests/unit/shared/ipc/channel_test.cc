#include "shared/ipc/channel.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace xsup::ipc {
namespace {

using nlohmann::json;
using Socket = asio::local::stream_protocol::socket;

std::array<base::UniqueFd, 2> socket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {base::UniqueFd(fds[0]), base::UniqueFd(fds[1])};
}

std::array<base::UniqueFd, 2> make_pipe() {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  return {base::UniqueFd(fds[0]), base::UniqueFd(fds[1])};
}

Socket adopt(asio::io_context& io, base::UniqueFd fd) {
  return Socket(io, asio::local::stream_protocol(), fd.release());
}

// Runs coroutines to completion on one thread; an exception in any fails the test.
template <class... Coroutines>
void run(asio::io_context& io, Coroutines&&... coroutines) {
  (asio::co_spawn(io, std::forward<Coroutines>(coroutines),
                  [](std::exception_ptr e) {
                    if (e) std::rethrow_exception(e);
                  }),
   ...);
  io.run();
}

// Raw bytes (and fds) as one sendmsg, to shape exactly what the receiver's kernel queue holds.
void raw_send(int fd, std::string_view bytes, std::span<const int> fds = {}) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(8 * sizeof(int))] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* header = CMSG_FIRSTHDR(&msg);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(header), fds.data(), fds.size() * sizeof(int));
  }
  ASSERT_EQ(::sendmsg(fd, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// Writes through `write_end` (a received fd) and reads it back from the pipe's read end.
void expect_same_pipe(const base::UniqueFd& write_end, const base::UniqueFd& read_end) {
  ASSERT_EQ(::write(write_end.get(), "ping", 4), 4);
  char got[4];
  ASSERT_EQ(::read(read_end.get(), got, 4), 4);
  EXPECT_EQ(std::string_view(got, 4), "ping");
}

struct ChannelTest : ::testing::Test {
  asio::io_context io;
  std::array<base::UniqueFd, 2> ends = socket_pair();
};

TEST_F(ChannelTest, MessageWithoutFds) {
  Channel a(adopt(io, std::move(ends[0])));
  Channel b(adopt(io, std::move(ends[1])));
  std::optional<base::Expected<Message>> got;
  run(io, [&]() -> asio::awaitable<void> {
    json ready = make_message("ready");
    ready["slot"] = 3;
    auto sent = co_await a.send(ready);
    EXPECT_TRUE(sent.has_value());
    got = co_await b.receive();
  });
  ASSERT_TRUE(got && got->has_value()) << (*got).error().message();
  EXPECT_EQ((*got)->body["type"], "ready");
  EXPECT_EQ((*got)->body["slot"], 3);
  EXPECT_TRUE((*got)->fds.empty());
}

TEST_F(ChannelTest, FdsTravelWithTheirMessage) {
  Channel a(adopt(io, std::move(ends[0])));
  Channel b(adopt(io, std::move(ends[1])));
  auto first = make_pipe();
  auto second = make_pipe();
  std::vector<Message> got;
  run(io, [&]() -> asio::awaitable<void> {
    const std::array<int, 2> fds = {first[1].get(), second[1].get()};
    EXPECT_TRUE((co_await a.send(make_message("bootstrap"), fds)).has_value());
    first[1].reset();  // the receiver's copies are now the only write ends
    second[1].reset();
    auto message = co_await b.receive();
    EXPECT_TRUE(message.has_value());
    if (message) got.push_back(std::move(*message));
  });
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].fds.size(), 2u);
  expect_same_pipe(got[0].fds[0], first[0]);
  expect_same_pipe(got[0].fds[1], second[0]);
  // Received with MSG_CMSG_CLOEXEC: a later exec in this process does not leak them.
  EXPECT_TRUE(::fcntl(got[0].fds[0].get(), F_GETFD) & FD_CLOEXEC);
}

TEST_F(ChannelTest, FiveMebibyteFrame) {
  Channel a(adopt(io, std::move(ends[0])));
  Channel b(adopt(io, std::move(ends[1])));
  json big = make_message("bootstrap");
  big["config"] = std::string(5 << 20, 'x');
  std::optional<base::Status> sent;
  std::optional<base::Expected<Message>> got;
  // Sender and receiver take turns on one thread: the send only completes because it waits
  // for the socket to drain instead of spinning or failing.
  run(
      io, [&]() -> asio::awaitable<void> { sent = co_await a.send(big); },
      [&]() -> asio::awaitable<void> { got = co_await b.receive(); });
  ASSERT_TRUE(sent && sent->has_value());
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->body, big);
}

TEST_F(ChannelTest, ConcurrentSendsDoNotInterleave) {
  Channel a(adopt(io, std::move(ends[0])));
  Channel b(adopt(io, std::move(ends[1])));
  json one = make_message("stats");
  one["blob"] = std::string(1 << 20, '1');
  json two = make_message("log");
  two["blob"] = std::string(1 << 20, '2');
  std::vector<json> got;
  run(
      io, [&]() -> asio::awaitable<void> { EXPECT_TRUE((co_await a.send(one)).has_value()); },
      [&]() -> asio::awaitable<void> { EXPECT_TRUE((co_await a.send(two)).has_value()); },
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
          auto message = co_await b.receive();
          EXPECT_TRUE(message.has_value());
          if (message) got.push_back(std::move(message->body));
        }
      });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], one);
  EXPECT_EQ(got[1], two);
}

TEST_F(ChannelTest, TwoMessagesInOneRead) {
  const int raw = ends[0].get();
  Channel b(adopt(io, std::move(ends[1])));
  raw_send(raw, encode_frame(make_message("ready")) + encode_frame(make_message("heartbeat")));
  std::vector<json> got;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto message = co_await b.receive();
      EXPECT_TRUE(message.has_value());
      if (message) got.push_back(std::move(message->body));
    }
  });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["type"], "ready");
  EXPECT_EQ(got[1]["type"], "heartbeat");
}

TEST_F(ChannelTest, QueuedMessagesKeepTheirOwnFds) {
  // All of it is queued before the first recvmsg, so Linux hands the fd-less frame and the
  // start of the next one over together: the fds must still go to the second message.
  const int raw = ends[0].get();
  Channel b(adopt(io, std::move(ends[1])));
  auto pipe = make_pipe();
  auto other = make_pipe();
  const int first_fds[] = {pipe[1].get()};
  const int third_fds[] = {other[1].get()};
  ASSERT_TRUE(send_blocking(raw, make_message("users")).has_value());
  ASSERT_TRUE(send_blocking(raw, make_message("certs"), first_fds).has_value());
  ASSERT_TRUE(send_blocking(raw, make_message("drain")).has_value());
  ASSERT_TRUE(send_blocking(raw, make_message("bootstrap"), third_fds).has_value());
  std::vector<Message> got;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 4; ++i) {
      auto message = co_await b.receive();
      EXPECT_TRUE(message.has_value()) << message.error().message();
      if (message) got.push_back(std::move(*message));
    }
  });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(got[0].fds.empty());
  ASSERT_EQ(got[1].fds.size(), 1u);
  EXPECT_TRUE(got[2].fds.empty());
  ASSERT_EQ(got[3].fds.size(), 1u);
  expect_same_pipe(got[1].fds[0], pipe[0]);
  expect_same_pipe(got[3].fds[0], other[0]);
}

TEST_F(ChannelTest, PeerClosingMidFrameIsAnError) {
  base::UniqueFd raw = std::move(ends[0]);
  Channel b(adopt(io, std::move(ends[1])));
  const std::string frame = encode_frame(make_message("ready"));
  raw_send(raw.get(), std::string_view(frame).substr(0, frame.size() - 3));
  raw.reset();
  std::optional<base::Expected<Message>> got;
  run(io, [&]() -> asio::awaitable<void> { got = co_await b.receive(); });
  ASSERT_TRUE(got && !got->has_value());
  EXPECT_TRUE(got->error().is(base::Errc::kClosed));
  EXPECT_EQ(got->error().reason, "peer closed mid-frame");
}

TEST_F(ChannelTest, PeerClosingBetweenFramesIsClosed) {
  Channel b(adopt(io, std::move(ends[1])));
  ASSERT_TRUE(send_blocking(ends[0].get(), make_message("ready")).has_value());
  ends[0].reset();
  std::vector<base::Expected<Message>> got;
  run(io, [&]() -> asio::awaitable<void> {
    got.push_back(co_await b.receive());
    got.push_back(co_await b.receive());
  });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].has_value());
  ASSERT_FALSE(got[1].has_value());
  EXPECT_TRUE(got[1].error().is(base::Errc::kClosed));
  EXPECT_TRUE(got[1].error().reason.empty());
}

TEST_F(ChannelTest, FdsInsideAFrameBreakTheChannel) {
  base::UniqueFd raw = std::move(ends[0]);
  Channel b(adopt(io, std::move(ends[1])));
  auto pipe = make_pipe();
  const std::string frame = encode_frame(make_message("ready"));
  const int fds[] = {pipe[1].get()};
  raw_send(raw.get(), std::string_view(frame).substr(0, 6));
  std::vector<base::Expected<Message>> got;
  run(
      io,
      [&]() -> asio::awaitable<void> {
        got.push_back(co_await b.receive());
        got.push_back(co_await b.receive());  // the error is final
      },
      // Runs once the receiver has taken the first bytes and waits: the fds then arrive
      // with bytes in which no frame begins.
      [&]() -> asio::awaitable<void> {
        raw_send(raw.get(), std::string_view(frame).substr(6), fds);
        raw.reset();
        co_return;
      });
  ASSERT_EQ(got.size(), 2u);
  for (auto& result : got) {
    ASSERT_FALSE(result.has_value());
    EXPECT_TRUE(result.error().is(base::Errc::kProtocol));
  }
}

TEST_F(ChannelTest, InvalidFrameBreaksTheChannel) {
  Channel b(adopt(io, std::move(ends[1])));
  raw_send(ends[0].get(), std::string("\0\0\0\0", 4));
  std::optional<base::Expected<Message>> got;
  run(io, [&]() -> asio::awaitable<void> { got = co_await b.receive(); });
  ASSERT_TRUE(got && !got->has_value());
  EXPECT_TRUE(got->error().is(base::Errc::kProtocol));
}

TEST_F(ChannelTest, TooManyFdsRefused) {
  Channel a(adopt(io, std::move(ends[0])));
  auto pipe = make_pipe();
  std::vector<int> fds(kMaxFdsPerMessage + 1, pipe[1].get());
  std::optional<base::Status> sent;
  run(io, [&]() -> asio::awaitable<void> { sent = co_await a.send(make_message("ready"), fds); });
  ASSERT_TRUE(sent && !sent->has_value());
  EXPECT_TRUE(sent->error().is(base::Errc::kTooLarge));
}

TEST_F(ChannelTest, NonObjectRefused) {
  Channel a(adopt(io, std::move(ends[0])));
  const json list = json::array({1});
  std::optional<base::Status> sent;
  run(io, [&]() -> asio::awaitable<void> { sent = co_await a.send(list); });
  ASSERT_TRUE(sent && !sent->has_value());
  EXPECT_TRUE(sent->error().is(base::Errc::kProtocol));
  EXPECT_FALSE(send_blocking(ends[1].get(), json("text")).has_value());
}

// UniqueFd is tested here, beside the channel that hands received fds out in it.
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFdTest, ClosesOnceAndMovesOwnership) {
  auto pipe = make_pipe();
  const int raw = pipe[0].get();
  base::UniqueFd moved(std::move(pipe[0]));
  EXPECT_FALSE(pipe[0].valid());
  EXPECT_EQ(moved.get(), raw);
  base::UniqueFd assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.get(), raw);
  EXPECT_TRUE(is_open(raw));
  {
    base::UniqueFd scoped(assigned.release());
    EXPECT_FALSE(assigned.valid());
  }
  EXPECT_FALSE(is_open(raw));

  const int write_end = pipe[1].get();
  pipe[1].reset();
  EXPECT_FALSE(is_open(write_end));
  EXPECT_EQ(pipe[1].get(), -1);
}

TEST(BlockingChannelTest, RoundTripWithFds) {
  auto ends = socket_pair();
  auto pipe = make_pipe();
  const int fds[] = {pipe[1].get()};
  json bootstrap = make_message("bootstrap");
  bootstrap["generation"] = 7;
  ASSERT_TRUE(send_blocking(ends[0].get(), bootstrap, fds).has_value());
  pipe[1].reset();
  auto got = receive_blocking(ends[1].get(), std::chrono::seconds(5));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(got->body, bootstrap);
  ASSERT_EQ(got->fds.size(), 1u);
  expect_same_pipe(got->fds[0], pipe[0]);
}

TEST(BlockingChannelTest, LeavesTheNextFrameForTheChannel) {
  auto ends = socket_pair();
  ASSERT_TRUE(send_blocking(ends[0].get(), make_message("bootstrap")).has_value());
  ASSERT_TRUE(send_blocking(ends[0].get(), make_message("users")).has_value());
  auto first = receive_blocking(ends[1].get(), std::chrono::seconds(5));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body["type"], "bootstrap");

  asio::io_context io;
  Channel channel(adopt(io, std::move(ends[1])));
  std::optional<base::Expected<Message>> second;
  run(io, [&]() -> asio::awaitable<void> { second = co_await channel.receive(); });
  ASSERT_TRUE(second && second->has_value());
  EXPECT_EQ((*second)->body["type"], "users");
}

TEST(BlockingChannelTest, TimesOut) {
  auto ends = socket_pair();
  auto got = receive_blocking(ends[1].get(), std::chrono::milliseconds(20));
  ASSERT_FALSE(got.has_value());
  EXPECT_TRUE(got.error().is(base::Errc::kTimeout));
}

TEST(BlockingChannelTest, ClosedMidFrame) {
  auto ends = socket_pair();
  const std::string frame = encode_frame(make_message("ready"));
  raw_send(ends[0].get(), std::string_view(frame).substr(0, 2));
  ends[0].reset();
  auto got = receive_blocking(ends[1].get(), std::chrono::seconds(5));
  ASSERT_FALSE(got.has_value());
  EXPECT_TRUE(got.error().is(base::Errc::kClosed));
}

}  // namespace
}  // namespace xsup::ipc
