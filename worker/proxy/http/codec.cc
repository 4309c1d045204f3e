#include "worker/proxy/http/codec.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "shared/base/base64.h"

namespace xsup::worker::proxy::http {
namespace {

using base::Errc;
using base::Error;
using base::Status;

// tchar (RFC 9110 §5.6.2).
bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_vchar(unsigned char c) { return c >= 0x21 && c <= 0x7e; }
bool is_ows(unsigned char c) { return c == ' ' || c == '\t'; }
// field-vchar, SP and HTAB (RFC 9110 §5.5), obs-text included.
bool is_field_char(unsigned char c) { return is_vchar(c) || is_ows(c) || c >= 0x80; }

unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c | 0x20 : c; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each non-empty element of a comma-separated list (RFC 9110 §5.6.1:
// empty elements are allowed and ignored). f returns false to stop.
template <class F>
void for_each_element(std::string_view list, F&& f) {
  while (true) {
    std::size_t comma = list.find(',');
    std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty() && !f(element)) return;
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// Reads the lines of a head: the start line through `on_start`, then field lines into
// `headers`, up to the empty line. Returns the head's size.
template <class OnStart>
Expected<std::size_t> parse_head(std::string_view data, std::size_t limit, std::size_t max_headers,
                                 bool skip_leading_empty_lines, std::vector<Header>& headers,
                                 OnStart&& on_start) {
  std::size_t pos = 0;
  const std::size_t end = std::min(data.size(), limit);
  auto incomplete = [&]() -> Error {
    return data.size() >= limit ? Error(Errc::kTooLarge, "head too large") : Error(Errc::kNeedMore);
  };
  if (skip_leading_empty_lines) {
    while (pos < end && data[pos] == '\r') {
      if (pos + 1 >= end) return incomplete();
      if (data[pos + 1] != '\n') return Error(Errc::kProtocol, "bare CR");
      pos += 2;
    }
  }
  bool first = true;
  while (true) {
    // One line: every byte is checked as it is scanned, so garbage (a TLS ClientHello, a
    // binary protocol) is refused at its first bad byte rather than after the limit.
    const std::size_t start = pos;
    std::size_t line_end = std::string_view::npos;
    while (pos < end) {
      auto c = static_cast<unsigned char>(data[pos]);
      if (c == '\r') {
        if (pos + 1 >= end) return incomplete();
        if (data[pos + 1] != '\n') return Error(Errc::kProtocol, "bare CR");
        line_end = pos;
        pos += 2;
        break;
      }
      // Only CRLF ends a line here (RFC 9112 §2.2 allows refusing a bare LF): a proxy that
      // reads lines differently from the origin invites request smuggling.
      if (c == '\n') return Error(Errc::kProtocol, "bare LF");
      if (!is_field_char(c)) return Error(Errc::kProtocol, "control character in head");
      ++pos;
    }
    if (line_end == std::string_view::npos) return incomplete();
    std::string_view line = data.substr(start, line_end - start);
    if (first) {
      first = false;
      Status status = on_start(line);
      if (!status) return status.error();
      continue;
    }
    if (line.empty()) return pos;
    // obs-fold (RFC 9112 §5.2): a server may refuse it with 400; a proxy must not pass it.
    if (is_ows(static_cast<unsigned char>(line.front()))) {
      return Error(Errc::kProtocol, "obsolete line folding");
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Error(Errc::kProtocol, "field line without a name");
    }
    std::string_view name = line.substr(0, colon);
    // No whitespace between name and colon (RFC 9112 §5.1: reject with 400).
    if (!std::all_of(name.begin(), name.end(),
                     [](char c) { return is_tchar(static_cast<unsigned char>(c)); })) {
      return Error(Errc::kProtocol, "invalid field name");
    }
    if (headers.size() >= max_headers) return Error(Errc::kTooLarge, "too many header fields");
    headers.push_back({name, trim_ows(line.substr(colon + 1))});
  }
}

// "HTTP/1.0" or "HTTP/1.1" -> minor version.
Expected<int> parse_version(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/") return Error(Errc::kProtocol, "bad HTTP version");
  if (v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9') {
    return Error(Errc::kProtocol, "bad HTTP version");
  }
  if (v[5] != '1' || v[7] > '1') return Error(Errc::kUnsupported, "HTTP version not supported");
  return v[7] - '0';
}

// Content-Length (RFC 9110 §8.6): every value, across fields and list elements, must be
// the same run of digits (RFC 9112 §6.3 item 5).
Expected<std::optional<std::uint64_t>> content_length(std::span<const Header> headers) {
  std::optional<std::uint64_t> length;
  bool bad = false;
  for (const auto& h : headers) {
    if (!iequals(h.name, "content-length")) continue;
    if (h.value.empty()) bad = true;
    for_each_element(h.value, [&](std::string_view element) {
      std::uint64_t n = 0;
      // 2^62 bounds every real body and keeps arithmetic on it far from overflow.
      constexpr std::uint64_t kMax = std::uint64_t{1} << 62;
      auto [ptr, ec] = std::from_chars(element.data(), element.data() + element.size(), n);
      if (ec != std::errc() || ptr != element.data() + element.size() || n > kMax ||
          !std::all_of(element.begin(), element.end(),
                       [](char c) { return c >= '0' && c <= '9'; })) {
        bad = true;
        return false;
      }
      if (length && *length != n) {
        bad = true;
        return false;
      }
      length = n;
      return true;
    });
    if (bad) break;
  }
  if (bad) return Error(Errc::kProtocol, "invalid Content-Length");
  return length;
}

// The transfer codings of all Transfer-Encoding fields: whether any is present, and
// whether chunked is the final one and appears only there (RFC 9112 §6.1).
struct TransferCodings {
  bool present = false;
  bool chunked_last = false;
  bool chunked_early = false;
};

TransferCodings transfer_codings(std::span<const Header> headers) {
  TransferCodings t;
  for (const auto& h : headers) {
    if (!iequals(h.name, "transfer-encoding")) continue;
    t.present = true;
    for_each_element(h.value, [&](std::string_view element) {
      // A coding may carry parameters ("gzip;q=1" is not valid here, but be total).
      std::string_view coding = trim_ows(element.substr(0, element.find(';')));
      if (t.chunked_last) t.chunked_early = true;
      t.chunked_last = iequals(coding, "chunked");
      return true;
    });
  }
  return t;
}

int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<std::string_view> find_header(std::span<const Header> headers,
                                            std::string_view name) {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

std::size_t count_header(std::span<const Header> headers, std::string_view name) {
  return static_cast<std::size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const Header& h) { return iequals(h.name, name); }));
}

bool has_token(std::span<const Header> headers, std::string_view name, std::string_view token) {
  bool found = false;
  for (const auto& h : headers) {
    if (!iequals(h.name, name)) continue;
    for_each_element(h.value, [&](std::string_view element) {
      found = iequals(element, token);
      return !found;
    });
    if (found) return true;
  }
  return false;
}

Expected<RequestHead> parse_request_head(std::string_view data, std::size_t limit) {
  RequestHead head;
  auto size = parse_head(data, limit, kMaxRequestHeaders, true, head.headers,
                         [&](std::string_view line) -> Status {
                           // request-line = method SP request-target SP HTTP-version
                           std::size_t sp1 = line.find(' ');
                           if (sp1 == std::string_view::npos || sp1 == 0) {
                             return Error(Errc::kProtocol, "bad request-line");
                           }
                           std::size_t sp2 = line.find(' ', sp1 + 1);
                           if (sp2 == std::string_view::npos || sp2 == sp1 + 1) {
                             return Error(Errc::kProtocol, "bad request-line");
                           }
                           head.method = line.substr(0, sp1);
                           head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
                           for (char c : head.method) {
                             if (!is_tchar(static_cast<unsigned char>(c))) {
                               return Error(Errc::kProtocol, "bad method");
                             }
                           }
                           for (char c : head.target) {
                             if (!is_vchar(static_cast<unsigned char>(c))) {
                               return Error(Errc::kProtocol, "bad request-target");
                             }
                           }
                           auto minor = parse_version(line.substr(sp2 + 1));
                           if (!minor) return minor.error();
                           head.minor = *minor;
                           return {};
                         });
  if (!size) return size.error();
  head.size = *size;
  return head;
}

Expected<ResponseHead> parse_response_head(std::string_view data, std::size_t limit) {
  ResponseHead head;
  auto size = parse_head(data, limit, kMaxResponseHeaders, false, head.headers,
                         [&](std::string_view line) -> Status {
                           // status-line = HTTP-version SP status-code SP [ reason-phrase ]; a
                           // missing SP after the code is tolerated (RFC 9112 §4 asks recipients to
                           // accept it).
                           if (line.size() < 12 || line[8] != ' ')
                             return Error(Errc::kProtocol, "bad status-line");
                           auto minor = parse_version(line.substr(0, 8));
                           if (!minor) return minor.error();
                           head.minor = *minor;
                           int status = 0;
                           for (std::size_t i = 9; i < 12; ++i) {
                             if (line[i] < '0' || line[i] > '9')
                               return Error(Errc::kProtocol, "bad status code");
                             status = status * 10 + (line[i] - '0');
                           }
                           if (status < 100) return Error(Errc::kProtocol, "bad status code");
                           head.status = status;
                           if (line.size() > 12) {
                             if (line[12] != ' ') return Error(Errc::kProtocol, "bad status-line");
                             head.reason = line.substr(13);
                           }
                           return {};
                         });
  if (!size) return size.error();
  head.size = *size;
  return head;
}

Expected<RequestTarget> parse_request_target(const RequestHead& head) {
  RequestTarget t;
  std::string_view target = head.target;
  if (head.method == "CONNECT") {
    // authority-form only (RFC 9112 §3.2.3): host:port, no scheme, no path, no userinfo.
    if (target.empty() || target.find_first_of("/?#@") != std::string_view::npos) {
      return Error(Errc::kProtocol, "CONNECT target is not host:port");
    }
    t.form = TargetForm::kAuthority;
    t.authority = target;
    return t;
  }
  if (target == "*") {
    t.form = TargetForm::kAsterisk;
    t.path = target;
    return t;
  }
  if (target.front() == '/') {
    t.form = TargetForm::kOrigin;
    t.path = target;
    return t;
  }
  // absolute-form (RFC 9112 §3.2.2): scheme "://" authority [path-abempty] ["?" query].
  std::size_t colon = target.find("://");
  if (colon == std::string_view::npos || colon == 0) {
    return Error(Errc::kProtocol, "request-target is neither a path nor an absolute URI");
  }
  if (!iequals(target.substr(0, colon), "http")) {
    return Error(Errc::kUnsupported, "URI scheme is not http");
  }
  std::string_view rest = target.substr(colon + 3);
  std::size_t path_start = rest.find_first_of("/?#");
  t.form = TargetForm::kAbsolute;
  t.authority = rest.substr(0, path_start);
  // userinfo is deprecated in http URIs (RFC 9110 §4.2.4) and an easy way to disguise a
  // target; refuse it.
  if (t.authority.empty() || t.authority.find('@') != std::string_view::npos) {
    return Error(Errc::kProtocol, "bad authority in URI");
  }
  std::string_view path =
      path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  // A fragment is never sent (RFC 9110 §4.2.5); drop one a client sent anyway.
  path = path.substr(0, path.find('#'));
  // The path of an origin-form target starts with "/" (RFC 9112 §3.2.1): an empty path
  // becomes "/", and "?q" becomes "/?q". Callers emit "/" before a path starting with "?".
  t.path = path;
  return t;
}

Expected<net::Destination> parse_authority(std::string_view authority, std::uint16_t default_port) {
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error(Errc::kProtocol, "bad IPv6 literal");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Error(Errc::kProtocol, "bad authority");
      port = after.substr(1);
    }
    asio::error_code ec;
    (void)asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return Error(Errc::kProtocol, "bad IPv6 literal");
  } else {
    std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return Error(Errc::kProtocol, "empty host");
  for (char c : host) {
    // reg-name characters and what IP literals use (RFC 3986 §3.2.2); percent-encoded
    // names are not resolvable anyway.
    auto u = static_cast<unsigned char>(c);
    if (!(is_tchar(u) || u == ':') || u == '%' || u == '|' || u == '`' || u == '^') {
      return Error(Errc::kProtocol, "bad host");
    }
  }
  std::uint16_t port_number = default_port;
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535 ||
        port.front() == '+' || port.front() == '-') {
      return Error(Errc::kProtocol, "bad port");
    }
    port_number = static_cast<std::uint16_t>(value);
  }
  net::Destination d;
  d.network = net::Network::kTcp;
  d.address = net::Address::parse(host);
  d.port = port_number;
  if (!d.valid()) return Error(Errc::kProtocol, "bad host");
  return d;
}

Expected<BodyFraming> request_body_framing(const RequestHead& head) {
  TransferCodings te = transfer_codings(head.headers);
  auto length = content_length(head.headers);
  if (!length) return length.error();
  if (te.present) {
    if (head.minor == 0) return Error(Errc::kProtocol, "Transfer-Encoding in an HTTP/1.0 request");
    if (length->has_value()) {
      return Error(Errc::kProtocol, "both Transfer-Encoding and Content-Length");
    }
    if (!te.chunked_last || te.chunked_early) {
      return Error(Errc::kProtocol, "request body not chunked last");
    }
    return BodyFraming{BodyFraming::Kind::kChunked, 0};
  }
  if (length->has_value() && **length > 0) {
    return BodyFraming{BodyFraming::Kind::kLength, **length};
  }
  return BodyFraming{};
}

Expected<BodyFraming> response_body_framing(const ResponseHead& head,
                                            std::string_view request_method) {
  if (request_method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304) {
    return BodyFraming{};
  }
  TransferCodings te = transfer_codings(head.headers);
  if (te.present) {
    // Transfer-Encoding overrides Content-Length (§6.3 item 3); a body not chunked last
    // runs until the server closes (item 4).
    if (te.chunked_last && !te.chunked_early) return BodyFraming{BodyFraming::Kind::kChunked, 0};
    return BodyFraming{BodyFraming::Kind::kUntilClose, 0};
  }
  auto length = content_length(head.headers);
  if (!length) return length.error();
  if (length->has_value()) {
    if (**length == 0) return BodyFraming{};
    return BodyFraming{BodyFraming::Kind::kLength, **length};
  }
  return BodyFraming{BodyFraming::Kind::kUntilClose, 0};
}

bool is_hop_by_hop(std::string_view name, std::span<const Header> headers) {
  // Connection and the fields RFC 9110 §7.6.1 names as hop-by-hop (Proxy-Connection,
  // Keep-Alive, TE, Upgrade), plus the proxy credentials this proxy consumes (§11.7.2) and
  // the challenge an upstream addressed to it (§11.7.1).
  static constexpr std::string_view kAlways[] = {
      "connection", "keep-alive",          "proxy-connection",   "te",
      "upgrade",    "proxy-authorization", "proxy-authenticate",
  };
  for (std::string_view h : kAlways) {
    if (iequals(name, h)) return true;
  }
  static constexpr std::string_view kKept[] = {"content-length", "transfer-encoding", "trailer",
                                               "host"};
  for (std::string_view h : kKept) {
    if (iequals(name, h)) return false;
  }
  return has_token(headers, "connection", name);
}

std::string serialize_request(const RequestHead& head, const RequestTarget& target,
                              std::string_view host, bool drop_expect) {
  std::string out;
  out.reserve(head.size + host.size() + 32);
  out.append(head.method);
  out.push_back(' ');
  if (target.path.empty() || target.path.front() == '?') out.push_back('/');
  out.append(target.path);
  out.append(head.minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  out.append("Host: ");
  out.append(host);
  out.append("\r\n");
  for (const auto& h : head.headers) {
    if (iequals(h.name, "host") || is_hop_by_hop(h.name, head.headers)) continue;
    if (drop_expect && iequals(h.name, "expect")) continue;
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append("\r\n");
  }
  out.append("\r\n");
  return out;
}

std::string serialize_response(const ResponseHead& head, bool keep_alive, bool client_http10) {
  std::string out;
  out.reserve(head.size + 32);
  out.append(head.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char code[3] = {static_cast<char>('0' + head.status / 100 % 10),
                  static_cast<char>('0' + head.status / 10 % 10),
                  static_cast<char>('0' + head.status % 10)};
  out.append(code, 3);
  out.push_back(' ');
  out.append(head.reason);
  out.append("\r\n");
  for (const auto& h : head.headers) {
    if (is_hop_by_hop(h.name, head.headers)) continue;
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append("\r\n");
  }
  // HTTP/1.1 connections persist unless told (RFC 9112 §9.3); HTTP/1.0 ones only when
  // told with keep-alive.
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  } else if (client_http10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  return out;
}

std::optional<Credentials> decode_basic_auth(std::string_view value) {
  // credentials = auth-scheme 1*SP token68; the scheme is case-insensitive (RFC 9110
  // §11.1, §11.4).
  std::size_t sp = value.find(' ');
  if (sp == std::string_view::npos || !iequals(value.substr(0, sp), "basic")) return std::nullopt;
  std::string_view token = value.substr(sp);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  auto decoded = base::base64_decode(token);
  if (!decoded) return std::nullopt;
  // user-id may not contain a colon; the password may (RFC 7617 §2).
  std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::string encode_basic_auth(std::string_view user, std::string_view pass) {
  std::string plain;
  plain.reserve(user.size() + pass.size() + 1);
  plain.append(user);
  plain.push_back(':');
  plain.append(pass);
  return "Basic " + base::base64_encode(plain);
}

std::string serialize_connect(const net::Destination& target, const config::Account* user,
                              std::span<const std::pair<std::string, std::string>> headers) {
  const std::string authority = target.host_port();
  std::string out;
  out.reserve(128);
  out.append("CONNECT ");
  out.append(authority);
  out.append(" HTTP/1.1\r\nHost: ");
  out.append(authority);
  out.append("\r\n");
  if (user != nullptr) {
    out.append("Proxy-Authorization: ");
    out.append(encode_basic_auth(user->user, user->pass));
    out.append("\r\n");
  }
  auto clean = [](std::string_view s) { return s.find_first_of("\r\n") == std::string_view::npos; };
  for (const auto& [name, value] : headers) {
    // A configured field must not be able to end the head early.
    if (name.empty() || !clean(name) || !clean(value)) continue;
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  }
  out.append("\r\n");
  return out;
}

Expected<std::size_t> ChunkedDecoder::feed(std::string_view data) {
  std::size_t i = 0;
  auto bad = [](std::string_view why) { return Error(Errc::kProtocol, why); };
  while (i < data.size()) {
    auto c = static_cast<unsigned char>(data[i]);
    switch (state_) {
      case State::kSize: {
        int v = hex_value(c);
        if (v >= 0) {
          // 15 hex digits bound a chunk at 2^60 bytes; the size can never overflow.
          if (++digits_ > 15) return Error(Errc::kTooLarge, "chunk size too large");
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(v);
          ++line_;
          ++i;
          break;
        }
        if (digits_ == 0) return bad("chunk size missing");
        // chunk-ext starts with BWS ";" (RFC 9112 §7.1.1); anything else is not a size line.
        if (c != ';' && c != ' ' && c != '\t' && c != '\r') return bad("bad chunk size");
        state_ = State::kExtension;
        break;
      }
      case State::kExtension:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (!is_field_char(c)) {
          return bad("bad chunk extension");
        } else if (++line_ > kMaxLine) {
          return Error(Errc::kTooLarge, "chunk size line too long");
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') return bad("bare CR in chunk size line");
        ++i;
        line_ = 0;
        digits_ = 0;
        state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
        break;
      case State::kData: {
        auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(remaining_, static_cast<std::uint64_t>(data.size() - i)));
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') return bad("chunk data longer than its size");
        ++i;
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') return bad("bare CR after chunk data");
        ++i;
        state_ = State::kSize;
        break;
      case State::kTrailerStart:
        if (++trailer_ > kMaxTrailer) return Error(Errc::kTooLarge, "trailer section too large");
        if (c == '\r') {
          state_ = State::kFinalLf;
          ++i;
        } else if (is_ows(c)) {
          return bad("obsolete line folding in trailer");
        } else {
          line_ = 0;
          state_ = State::kTrailerLine;
          --trailer_;  // counted again as part of the line
        }
        break;
      case State::kTrailerLine:
        if (++trailer_ > kMaxTrailer) return Error(Errc::kTooLarge, "trailer section too large");
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (!is_field_char(c)) {
          return bad("bad trailer field");
        } else if (++line_ > kMaxLine) {
          return Error(Errc::kTooLarge, "trailer field too long");
        }
        ++i;
        break;
      case State::kTrailerLf:
        if (c != '\n') return bad("bare CR in trailer");
        ++i;
        state_ = State::kTrailerStart;
        break;
      case State::kFinalLf:
        if (c != '\n') return bad("bare CR at the end of a chunked body");
        ++i;
        state_ = State::kDone;
        return i;
      case State::kDone:
        return i;
    }
  }
  return i;
}

}  // namespace xsup::worker::proxy::http
