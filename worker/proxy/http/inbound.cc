#include "worker/proxy/http/inbound.h"

#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/http/codec.h"
#include "worker/proxy/http/http.h"
#include "worker/proxy/user_directory.h"

namespace xsup::worker::proxy::http {
namespace {

using base::Errc;
using base::Error;
using base::Status;
using Clock = std::chrono::steady_clock;

// The HTTP settings of the inbound that received the connection.
struct Settings {
  const std::vector<config::Account>* accounts;
  bool allow_transparent = false;
  std::uint32_t user_level = 0;
  bool store_users = false;  // the store's users of this inbound may authenticate too
};

Settings settings_of(const config::InboundConfig& config) {
  static const std::vector<config::Account> kNoAccounts;
  if (const auto* h = std::get_if<config::HttpInbound>(&config.settings)) {
    return {&h->accounts, h->allow_transparent, h->user_level, true};
  }
  if (const auto* s = std::get_if<config::SocksInbound>(&config.settings)) {
    return {s->auth_password ? &s->accounts : &kNoAccounts, false, s->user_level, s->auth_password};
  }
  return {&kNoAccounts, false, 0, false};
}

std::string_view as_text(const core::Buffer& buffer, std::size_t begin, std::size_t end) {
  return {reinterpret_cast<const char*>(buffer.data()) + begin, end - begin};
}

// connIdle for a connection whose phases change: one timer per connection, re-armed
// lazily from the time of the last activity (Asio's timeout_watchdog pattern), that
// closes both streams when nothing moved for the policy's idle time.
class Watchdog {
 public:
  explicit Watchdog(asio::any_io_executor executor)
      : timer_(std::move(executor)), state_(std::make_shared<State>()) {}
  ~Watchdog() { stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void start(Clock::duration idle, core::Stream* client) {
    state_->idle = idle;
    state_->client = client;
    state_->last = Clock::now();
    state_->armed = true;
    arm();
  }
  void set_upstream(core::Stream* upstream) { state_->upstream = upstream; }
  void touch() { state_->last = Clock::now(); }
  void stop() {
    state_->armed = false;
    timer_.cancel();
  }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    Clock::duration idle{};
    Clock::time_point last{};
    core::Stream* client = nullptr;
    core::Stream* upstream = nullptr;
    bool armed = false;
    bool expired = false;
  };

  void arm() {
    timer_.expires_at(state_->last + state_->idle);
    // `this` is only used while armed: stop() (also from the destructor) disarms first.
    timer_.async_wait([this, state = state_](const std::error_code& ec) {
      if (ec || !state->armed) return;
      if (Clock::now() - state->last >= state->idle) {
        state->expired = true;
        if (state->client != nullptr) state->client->close();
        if (state->upstream != nullptr) state->upstream->close();
        return;
      }
      arm();
    });
  }

  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

// Bytes read from one side and not yet used: [begin, end) of a pooled buffer, which is
// given back whenever it is empty so an idle connection holds none.
struct Inflow {
  core::Buffer buffer;
  std::size_t begin = 0;
  std::size_t end = 0;

  bool empty() const { return begin == end; }
  std::string_view text() const { return as_text(buffer, begin, end); }
  void release_if_empty() {
    if (empty()) {
      buffer = {};
      begin = end = 0;
    }
  }
  void ensure() {
    if (!buffer) {
      buffer = core::BufferPool::local().acquire();
      begin = end = 0;
    }
  }
  // Moves unread bytes to the front so a head can grow to the buffer's size.
  void compact() {
    if (begin == 0) return;
    std::memmove(buffer.data(), buffer.data() + begin, end - begin);
    end -= begin;
    begin = 0;
  }
};

enum class Next { kContinue, kEnd };

class ClientConnection {
 public:
  ClientConnection(const InboundContext& ctx, core::StreamPtr stream, core::Session session,
                   core::Prefetch first)
      : ctx_(ctx),
        settings_(settings_of(ctx.config)),
        client_(std::move(stream)),
        session_(std::move(session)),
        watchdog_(client_->get_executor()) {
    session_.level = settings_.user_level;
    session_.sniffing = &ctx.config.sniffing;
    session_.policy = ctx_.policy.level(session_.level);
    if (first.buffer && !first.empty()) {
      in_.buffer = std::move(first.buffer);
      in_.begin = first.begin;
      in_.end = first.end;
    }
  }

  ~ClientConnection() {
    watchdog_.stop();
    if (upstream_) upstream_->close();
    if (client_) client_->close();
  }

  awaitable<void> run() {
    watchdog_.start(session_.policy.conn_idle, client_.get());
    for (bool first = true;; first = false) {
      auto head = co_await read_request_head(first);
      if (!head) {
        if (head.error().is(Errc::kClosed)) co_return;  // a keep-alive client went away
        if (head.error().is(Errc::kTooLarge)) co_await reply(kResponse431);
        if (head.error().is(Errc::kProtocol) || head.error().is(Errc::kUnsupported)) {
          co_await reply(kResponse400);
        }
        reject(head.error());
        co_return;
      }
      if (co_await handle(*head) == Next::kEnd) co_return;
    }
  }

 private:
  void reject(const Error& error) {
    log::info(session_.id, "http: rejected: {}",
              error.reason.empty() ? error.message() : std::string(error.reason));
  }

  awaitable<void> reply(std::string_view response) {
    (void)co_await client_->write_all(asio::buffer(response));
    (void)co_await client_->shutdown_send();
  }

  // Reads until a whole request head is in `in_`. kClosed means the client closed (or
  // idled out) between requests, which is how keep-alive connections normally end.
  awaitable<Expected<RequestHead>> read_request_head(bool first) {
    if (in_.empty()) {
      // Between requests wait without a buffer; connIdle bounds the wait.
      in_.release_if_empty();
      if (!first) {
        auto ec = co_await client_->wait_readable();
        if (ec) co_return Error(Errc::kClosed);
      }
    }
    in_.ensure();
    // The head itself must arrive within the handshake time.
    core::Deadline deadline(*client_, session_.policy.handshake);
    bool got_bytes = !in_.empty();
    while (true) {
      if (!in_.empty()) {
        auto head = parse_request_head(in_.text());
        if (head || !head.error().is(Errc::kNeedMore)) co_return head;
      }
      in_.compact();
      auto [ec, n] = co_await client_->read_some(
          asio::buffer(in_.buffer.data() + in_.end, in_.buffer.capacity() - in_.end));
      if (ec) {
        if (!got_bytes) co_return Error(Errc::kClosed);
        if (deadline.expired() || watchdog_.expired()) {
          co_return Error(Errc::kTimeout, "request head timed out");
        }
        co_return Error(Errc::kProtocol, "connection ended inside the request head");
      }
      watchdog_.touch();
      got_bytes = true;
      in_.end += n;
    }
  }

  // Basic proxy authentication (RFC 9110 §11.7); true when the request may pass.
  bool authenticate(const RequestHead& head) {
    const std::string& tag = ctx_.config.tag;
    const bool store = settings_.store_users && user_directory().has_users(tag);
    if (settings_.accounts->empty() && !store) return true;
    auto value = find_header(head.headers, "proxy-authorization");
    if (!value) return false;
    auto credentials = decode_basic_auth(*value);
    if (!credentials) return false;
    auto user = check_account(settings_.store_users ? std::string_view(tag) : std::string_view(),
                              *settings_.accounts, credentials->user, credentials->pass);
    if (!user) return false;
    if (user->email != session_.user) {
      session_.user = user->email;
      session_.user_from_store = user->from_store;
      enrollment_ = {};
      if (user->from_store) {
        // A store user who loses access loses this connection at once; one over their IP
        // limit is refused.
        auto enrolled = enroll_store_user(session_, [this] {
          if (upstream_) upstream_->close();
          if (client_) client_->close();
        });
        if (!enrolled) {
          session_.user.clear();
          session_.user_from_store = false;
          return false;
        }
        enrollment_ = std::move(*enrolled);
      }
    }
    return true;
  }

  awaitable<Next> handle(const RequestHead& head) {
    auto target = parse_request_target(head);
    if (!target) {
      co_await reply(kResponse400);
      reject(target.error());
      co_return Next::kEnd;
    }
    if (!authenticate(head)) {
      co_await reply(kResponse407);
      reject(Error(Errc::kAuthFailed, find_header(head.headers, "proxy-authorization")
                                          ? "proxy authentication failed"
                                          : "proxy authentication required"));
      co_return Next::kEnd;
    }
    if (target->form == TargetForm::kAuthority) co_return co_await tunnel(head, *target);
    co_return co_await forward(head, *target);
  }

  // CONNECT: answer at once, as Xray does, and hand the stream to the dispatcher with
  // the bytes the client already sent past the head (often its TLS ClientHello).
  awaitable<Next> tunnel(const RequestHead& head, const RequestTarget& target) {
    auto destination = parse_authority(target.authority, 0);
    if (!destination || destination->port == 0) {
      co_await reply(kResponse400);
      reject(destination ? Error(Errc::kProtocol, "CONNECT target without a port")
                         : destination.error());
      co_return Next::kEnd;
    }
    in_.begin += head.size;
    if (upstream_) {
      upstream_->close();
      upstream_.reset();
      watchdog_.set_upstream(nullptr);
    }
    watchdog_.stop();  // the relay keeps its own idle time
    if (auto ec = co_await client_->write_all(asio::buffer(kResponseConnected)))
      co_return Next::kEnd;
    session_.target = *destination;
    session_.original_target = *destination;
    core::Prefetch prefetch{std::move(in_.buffer), in_.begin, in_.end};
    in_ = {};
    co_await ctx_.dispatcher.dispatch(session_, *client_, std::move(prefetch));
    co_return Next::kEnd;
  }

  // An upstream connection to `destination`: the kept-alive one when it goes there, else
  // a new one through the router. Sends 503 to the client when none can be had.
  awaitable<Status> ensure_upstream(const net::Destination& destination, bool may_reuse,
                                    bool& reused) {
    reused = false;
    if (upstream_ && may_reuse && upstream_reusable_ && upstream_destination_ == destination) {
      reused = true;
      co_return Status{};
    }
    if (upstream_) {
      upstream_->close();
      upstream_.reset();
      watchdog_.set_upstream(nullptr);
    }
    out_ = {};
    session_.target = destination;
    session_.original_target = destination;
    auto stream = co_await ctx_.dispatcher.connect(session_);
    if (!stream) {
      log::info(session_.id, "http: failed to reach {}: {}", destination.to_string(),
                stream.error().message());
      co_await reply(kResponse503);
      co_return stream.error();
    }
    upstream_ = std::move(*stream);
    upstream_destination_ = destination;
    upstream_reusable_ = false;
    watchdog_.set_upstream(upstream_.get());
    watchdog_.touch();  // Dispatcher::connect wrote the access line
    co_return Status{};
  }

  // Copies one message body of `framing` from `from` (whose unread bytes are in `flow`)
  // to `to`, leaving bytes past the body in `flow`. `source_failed` tells a failed read
  // apart from a failed write.
  awaitable<Status> copy_body(core::Stream& from, Inflow& flow, core::Stream& to,
                              BodyFraming framing, bool& source_failed) {
    using Kind = BodyFraming::Kind;
    source_failed = false;
    if (framing.kind == Kind::kNone) co_return Status{};
    ChunkedDecoder chunked;
    std::uint64_t remaining = framing.length;
    while (true) {
      if (framing.kind == Kind::kLength && remaining == 0) co_return Status{};
      if (framing.kind == Kind::kChunked && chunked.done()) co_return Status{};
      if (flow.empty()) {
        flow.ensure();
        flow.begin = flow.end = 0;
        auto [ec, n] =
            co_await from.read_some(asio::buffer(flow.buffer.data(), flow.buffer.capacity()));
        if (ec) {
          if (framing.kind == Kind::kUntilClose && ec == asio::error::eof) co_return Status{};
          source_failed = true;
          co_return Error(ec, "body read");
        }
        flow.end = n;
        watchdog_.touch();
      }
      std::size_t n = flow.end - flow.begin;
      if (framing.kind == Kind::kLength) {
        n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, n));
        remaining -= n;
      } else if (framing.kind == Kind::kChunked) {
        auto used = chunked.feed(flow.text());
        if (!used) {
          source_failed = true;
          co_return used.error();
        }
        n = *used;
      }
      if (n > 0) {
        if (auto ec = co_await to.write_all(asio::buffer(flow.buffer.data() + flow.begin, n))) {
          co_return Error(ec, "body write");
        }
        session_.traffic.add(&to != client_.get(), n);
        watchdog_.touch();
        flow.begin += n;
      }
    }
  }

  // Reads the next response head from upstream into `out_`. `got_bytes` says whether
  // anything at all arrived, which tells a stale kept-alive connection apart.
  awaitable<Expected<ResponseHead>> read_response_head(bool& got_bytes) {
    out_.ensure();
    while (true) {
      if (!out_.empty()) {
        got_bytes = true;
        auto head = parse_response_head(out_.text(), out_.buffer.capacity());
        if (head || !head.error().is(Errc::kNeedMore)) co_return head;
      }
      out_.compact();
      auto [ec, n] = co_await upstream_->read_some(
          asio::buffer(out_.buffer.data() + out_.end, out_.buffer.capacity() - out_.end));
      if (ec) co_return Error(Errc::kClosed, "upstream closed before its response");
      watchdog_.touch();
      out_.end += n;
    }
  }

  // A request in absolute-form (or origin-form with allowTransparent): forwarded in
  // origin-form, its response forwarded back; the connection stays for the next request
  // when both the client and the framing allow it.
  awaitable<Next> forward(const RequestHead& head, const RequestTarget& target) {
    using Kind = BodyFraming::Kind;
    std::string_view host = target.authority;
    if (target.form != TargetForm::kAbsolute) {
      // origin-form (and "*") names no server: only a transparent proxy may take the Host.
      if (!settings_.allow_transparent || target.form != TargetForm::kOrigin) {
        co_await reply(kResponse400);
        reject(Error(Errc::kProtocol, "request-target is not an absolute URI"));
        co_return Next::kEnd;
      }
      host = find_header(head.headers, "host").value_or("");
    }
    // Exactly one Host, or none with an absolute URI (RFC 9112 §3.2).
    const std::size_t hosts = count_header(head.headers, "host");
    if (hosts > 1 || (hosts == 0 && target.form != TargetForm::kAbsolute)) {
      co_await reply(kResponse400);
      reject(Error(Errc::kProtocol, "missing or repeated Host"));
      co_return Next::kEnd;
    }
    auto destination = parse_authority(host, 80);
    if (!destination) {
      co_await reply(kResponse400);
      reject(destination.error());
      co_return Next::kEnd;
    }
    auto request_framing = request_body_framing(head);
    if (!request_framing) {
      co_await reply(kResponse400);
      reject(request_framing.error());
      co_return Next::kEnd;
    }
    const bool http10 = head.minor == 0;
    const bool is_head = head.method == "HEAD";
    // HTTP/1.1 persists unless a side says close; HTTP/1.0 only with keep-alive
    // (RFC 9112 §9.3; Proxy-Connection as Xray and old clients use it).
    bool keep_alive = http10 ? has_token(head.headers, "connection", "keep-alive") ||
                                   has_token(head.headers, "proxy-connection", "keep-alive")
                             : !has_token(head.headers, "connection", "close") &&
                                   !has_token(head.headers, "proxy-connection", "close");
    // This proxy answers 100-continue itself and drops the expectation (RFC 9110 §10.1.1
    // lets it forward or answer): the body then follows at once and no upload waits on a
    // server that ignores Expect.
    const bool expect_continue = !http10 && request_framing->kind != Kind::kNone &&
                                 has_token(head.headers, "expect", "100-continue");
    const std::string request = serialize_request(head, target, host, expect_continue);
    in_.begin += head.size;  // `head` points into in_: not used past this line

    // A kept-alive connection may have been closed by the server meanwhile; a request
    // without a body is sent again on a fresh one then (RFC 9112 §9.3.1).
    const bool replayable = request_framing->kind == Kind::kNone;
    bool continue_sent = false;
    Expected<ResponseHead> response = Error(Errc::kClosed);
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = false;
      if (!co_await ensure_upstream(*destination, attempt == 0, reused)) co_return Next::kEnd;
      session_.traffic.add(true, request.size());
      if (auto ec = co_await upstream_->write_all(asio::buffer(request))) {
        if (reused) {
          upstream_reusable_ = false;
          continue;
        }
        co_await reply(kResponse502);
        log::info(session_.id, "http: sending to {} failed: {}", destination->to_string(),
                  ec.message());
        co_return Next::kEnd;
      }
      watchdog_.touch();
      if (expect_continue && !continue_sent) {
        continue_sent = true;
        if (co_await client_->write_all(asio::buffer(kResponse100))) co_return Next::kEnd;
      }
      bool source_failed = false;
      auto uploaded =
          co_await copy_body(*client_, in_, *upstream_, *request_framing, source_failed);
      if (!uploaded) {
        if (source_failed) co_return Next::kEnd;  // the client went away or sent a bad body
        // The server stopped taking the body; it may still have answered (413 and the
        // like). The rest of the body is unread, so this connection cannot carry more.
        keep_alive = false;
      }
      bool got_bytes = false;
      response = co_await read_interim_and_final(http10, continue_sent, got_bytes);
      if (!response && reused && replayable && !got_bytes) {
        upstream_reusable_ = false;
        continue;
      }
      break;
    }
    if (!response) {
      if (response.error().is(Errc::kClosed) && !response.error().reason.empty()) {
        log::info(session_.id, "http: {}: {}", destination->to_string(), response.error().reason);
      } else {
        log::info(session_.id, "http: bad response from {}: {}", destination->to_string(),
                  response.error().message());
      }
      co_await reply(kResponse502);
      co_return Next::kEnd;
    }
    auto response_framing = response_body_framing(*response, is_head ? "HEAD" : "GET");
    if (!response_framing) {
      log::info(session_.id, "http: bad response from {}: {}", destination->to_string(),
                response_framing.error().message());
      co_await reply(kResponse502);
      co_return Next::kEnd;
    }
    const bool until_close = response_framing->kind == Kind::kUntilClose;
    keep_alive = keep_alive && !until_close;
    const bool upstream_keep_alive =
        !until_close && !has_token(response->headers, "connection", "close") &&
        (response->minor == 1 || has_token(response->headers, "connection", "keep-alive"));
    const std::string response_head = serialize_response(*response, keep_alive, http10);
    out_.begin += response->size;  // `response` points into out_: not used past this line
    if (co_await client_->write_all(asio::buffer(response_head))) co_return Next::kEnd;
    session_.traffic.add(false, response_head.size());
    watchdog_.touch();

    bool source_failed = false;
    auto downloaded =
        co_await copy_body(*upstream_, out_, *client_, *response_framing, source_failed);
    if (!downloaded) {
      if (source_failed) {
        log::info(session_.id, "http: response body from {} ended early: {}",
                  destination->to_string(), downloaded.error().message());
      }
      co_return Next::kEnd;
    }
    // Bytes past the response would be a reply to nothing: do not trust that connection.
    upstream_reusable_ = upstream_keep_alive && out_.empty();
    if (!upstream_reusable_) {
      upstream_->close();
      upstream_.reset();
      watchdog_.set_upstream(nullptr);
    }
    out_.release_if_empty();
    if (!keep_alive) {
      (void)co_await client_->shutdown_send();
      co_return Next::kEnd;
    }
    co_return Next::kContinue;
  }

  // Reads responses until a final one; interim ones (1xx) go to an HTTP/1.1 client, but
  // never to an HTTP/1.0 one (RFC 9110 §15.2), and a 100 not twice.
  awaitable<Expected<ResponseHead>> read_interim_and_final(bool http10, bool continue_sent,
                                                           bool& got_bytes) {
    while (true) {
      auto head = co_await read_response_head(got_bytes);
      if (!head || head->status >= 200) co_return head;
      // Upgrade was removed from the request, so 101 has nothing to switch to.
      if (head->status == 101) co_return Error(Errc::kProtocol, "unexpected 101 response");
      if (!http10 && !(head->status == 100 && continue_sent)) {
        if (co_await client_->write_all(
                asio::buffer(out_.buffer.data() + out_.begin, head->size))) {
          co_return Error(Errc::kClosed, "client closed during an interim response");
        }
      }
      out_.begin += head->size;
    }
  }

  const InboundContext& ctx_;
  Settings settings_;
  core::StreamPtr client_;
  core::Session session_;
  core::UserConnections::Enrollment enrollment_;  // a store user's connection
  Watchdog watchdog_;
  Inflow in_;   // client -> proxy
  Inflow out_;  // upstream -> proxy
  core::StreamPtr upstream_;
  net::Destination upstream_destination_;
  bool upstream_reusable_ = false;
};

}  // namespace

awaitable<void> serve_as_http(const InboundContext& ctx, core::StreamPtr stream,
                              core::Session session, core::Prefetch first) {
  const std::uint64_t id = session.id;
  try {
    ClientConnection connection(ctx, std::move(stream), std::move(session), std::move(first));
    co_await connection.run();
  } catch (const std::exception& e) {
    // Nothing on this path throws by design; an allocation failure must still not take
    // the worker down.
    log::warning(id, "http: connection ended by exception: {}", e.what());
  }
}

awaitable<void> HttpInbound::serve(core::StreamPtr stream, core::Session session) {
  core::Prefetch nothing;  // named: g++ 12 mishandles class temporaries in co_await
  co_await serve_as_http(context_, std::move(stream), std::move(session), std::move(nothing));
}

std::unique_ptr<Inbound> make_http_inbound(const InboundContext& context) {
  return std::make_unique<HttpInbound>(context);
}

}  // namespace xsup::worker::proxy::http
