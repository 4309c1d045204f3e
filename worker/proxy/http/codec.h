#pragma once
// The HTTP/1.x codec of the HTTP proxy: pure functions from bytes to values (STYLE.md §2).
// Parsers are bounded and total: a valid but incomplete prefix gives Errc::kNeedMore, a head
// over its limit Errc::kTooLarge, anything malformed Errc::kProtocol. Parsed heads hold
// string_views into the caller's bytes, which must outlive them.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "shared/net/destination.h"

namespace xsup::worker::proxy::http {

using base::Expected;

// A request head (request-line and header section) larger than this is refused (RFC 9112
// §2.3 leaves the limit to the server; 16 KiB is above what browsers and curl send).
inline constexpr std::size_t kMaxRequestHead = 16 * 1024;
inline constexpr std::size_t kMaxRequestHeaders = 100;
// Responses carry more and longer fields (cookies, CSPs); their bound is the caller's buffer.
inline constexpr std::size_t kMaxResponseHeaders = 256;

struct Header {
  std::string_view name;
  std::string_view value;  // without leading and trailing whitespace (RFC 9110 §5.5)
};

struct RequestHead {
  std::string_view method;
  std::string_view target;  // the request-target as sent
  int minor = 1;            // HTTP/1.<minor>, 0 or 1
  std::vector<Header> headers;
  std::size_t size = 0;  // bytes of the head, including the empty line
};

struct ResponseHead {
  int minor = 1;
  int status = 0;
  std::string_view reason;
  std::vector<Header> headers;
  std::size_t size = 0;
};

// Parses a request head at the start of `data` (RFC 9112 §2-§5). Empty lines before the
// request-line are skipped (§2.2). Only CRLF ends a line; obs-fold is refused (§5.2).
Expected<RequestHead> parse_request_head(std::string_view data,
                                         std::size_t limit = kMaxRequestHead);
// Parses a response head (RFC 9112 §4); `limit` is usually the receive buffer's size.
Expected<ResponseHead> parse_response_head(std::string_view data, std::size_t limit);

// ASCII case-insensitive equality, as field names and tokens compare (RFC 9110 §5.1).
bool iequals(std::string_view a, std::string_view b);
// The first field named `name`, if any.
std::optional<std::string_view> find_header(std::span<const Header> headers, std::string_view name);
std::size_t count_header(std::span<const Header> headers, std::string_view name);
// True when any field named `name` holds `token` in its comma-separated list
// (RFC 9110 §5.6.1), compared case-insensitively.
bool has_token(std::span<const Header> headers, std::string_view name, std::string_view token);

enum class TargetForm { kOrigin, kAbsolute, kAuthority, kAsterisk };

// The request-target decomposed (RFC 9112 §3.2).
struct RequestTarget {
  TargetForm form = TargetForm::kOrigin;
  std::string_view authority;  // host[:port], from the URI or the CONNECT target
  std::string_view path;       // origin-form to send upstream: "/path?query"; "" for CONNECT
};

// Decomposes the target of `head`: CONNECT takes authority-form only (§3.2.3); otherwise
// origin-form, or absolute-form with the "http" scheme (other schemes are kUnsupported).
Expected<RequestTarget> parse_request_target(const RequestHead& head);

// host[:port] (RFC 3986 §3.2.2, IPv6 in brackets) to a TCP destination; an absent or
// empty port becomes `default_port`.
Expected<net::Destination> parse_authority(std::string_view authority, std::uint16_t default_port);

// How a message body is delimited (RFC 9112 §6.3).
struct BodyFraming {
  enum class Kind { kNone, kLength, kChunked, kUntilClose };
  Kind kind = Kind::kNone;
  std::uint64_t length = 0;  // kLength only
};

// Request bodies: chunked when Transfer-Encoding ends in chunked, else Content-Length,
// else none. Content-Length together with Transfer-Encoding, conflicting lengths, or a
// Transfer-Encoding that does not end in chunked are refused (§6.1, §6.3 items 3-5): a
// proxy that guessed here would let requests be smuggled past it.
Expected<BodyFraming> request_body_framing(const RequestHead& head);
// Response bodies, given the request's method (§6.3 items 1-7): none for HEAD, 1xx, 204,
// 304; chunked; Content-Length; otherwise until the server closes.
Expected<BodyFraming> response_body_framing(const ResponseHead& head,
                                            std::string_view request_method);

// True for fields that belong to one connection only and must not be forwarded
// (RFC 9110 §7.6.1): Connection, the names it lists, and the fields this proxy consumes
// or that only have meaning on one hop. The framing fields (Content-Length,
// Transfer-Encoding, Trailer) and Host stay even if Connection lists them: this proxy
// forwards bodies in the framing they arrived in, so dropping those would break it.
bool is_hop_by_hop(std::string_view name, std::span<const Header> headers);

// The head sent to the origin: origin-form request-line with the client's version, Host
// first (RFC 9112 §3.2: replaced by the target URI's authority), then every end-to-end
// field in order. `drop_expect` removes Expect when this proxy answered 100 itself.
std::string serialize_request(const RequestHead& head, const RequestTarget& target,
                              std::string_view host, bool drop_expect);
// The head sent to the client: status-line as received, end-to-end fields, then the
// Connection option this proxy chose for the client's connection.
std::string serialize_response(const ResponseHead& head, bool keep_alive, bool client_http10);

// Proxy-Authorization: Basic base64(user ":" pass) (RFC 7617 §2). nullopt when the
// value is not Basic credentials with a colon.
struct Credentials {
  std::string user;
  std::string pass;
};
std::optional<Credentials> decode_basic_auth(std::string_view value);
// "Basic " + base64(user:pass), for the Proxy-Authorization an outbound sends.
std::string encode_basic_auth(std::string_view user, std::string_view pass);

// The CONNECT request an HTTP outbound sends to its upstream proxy (RFC 9110 §9.3.6).
std::string serialize_connect(const net::Destination& target, const config::Account* user,
                              std::span<const std::pair<std::string, std::string>> headers);

// Finds the end of a chunked body (RFC 9112 §7.1) in a stream of bytes without copying
// them: each feed() says how many of the given bytes still belong to the body. Chunk-size
// lines and the trailer section are bounded.
class ChunkedDecoder {
 public:
  // A chunk-size line with its extensions, and one trailer field line, at most this long.
  static constexpr std::size_t kMaxLine = 4096;
  // The whole trailer section at most this long.
  static constexpr std::size_t kMaxTrailer = 16 * 1024;

  // Consumes a prefix of `data`: all of it while the body goes on, up to and including
  // the final CRLF once it ends. Errors are kProtocol or kTooLarge.
  Expected<std::size_t> feed(std::string_view data);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State {
    kSize,          // hex digits of chunk-size
    kExtension,     // after the size, up to CR
    kSizeLf,        // LF after the size line
    kData,          // chunk-data
    kDataCr,        // CR after chunk-data
    kDataLf,        // LF after chunk-data
    kTrailerStart,  // at the start of a trailer line, or the final CRLF
    kTrailerLine,   // inside a trailer field line
    kTrailerLf,     // LF after a trailer field line
    kFinalLf,       // LF of the last CRLF
    kDone,
  };
  State state_ = State::kSize;
  std::uint64_t remaining_ = 0;  // chunk-data bytes left, or the size being parsed
  std::size_t digits_ = 0;
  std::size_t line_ = 0;     // bytes of the current size or trailer line
  std::size_t trailer_ = 0;  // bytes of the trailer section
};

// Short responses this proxy sends itself; each closes the connection.
inline constexpr std::string_view kResponse400 =
    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
inline constexpr std::string_view kResponse407 =
    "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
    "realm=\"proxy\"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
inline constexpr std::string_view kResponse431 =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: "
    "0\r\n\r\n";
inline constexpr std::string_view kResponse501 =
    "HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
inline constexpr std::string_view kResponse502 =
    "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
inline constexpr std::string_view kResponse503 =
    "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
inline constexpr std::string_view kResponse100 = "HTTP/1.1 100 Continue\r\n\r\n";
inline constexpr std::string_view kResponseConnected =
    "HTTP/1.1 200 Connection established\r\n\r\n";

}  // namespace xsup::worker::proxy::http
