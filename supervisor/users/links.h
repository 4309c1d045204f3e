#pragma once
// Share links (`xsup user link`): the URI forms clients import, built from one inbound of
// the configuration as written (its JSON object, so that every protocol's fields are at
// hand) and one user's credentials.
//
//   vless://UUID@HOST:PORT?encryption=none&type=…[transport]&security=…[tls|reality]
//           [&flow=…]#EMAIL
//   vmess://BASE64(v2rayN JSON, every value a string: v "2", ps, add, port, id, aid "0",
//            scy "auto", net, type, host, path, tls, sni, alpn, fp)
//   trojan://PASSWORD@HOST:PORT?type=…[transport]&security=…[tls|reality]#EMAIL
//   ss://BASE64URL(METHOD:PASSWORD)@HOST:PORT#EMAIL (SIP002, unpadded; 2022 methods:
//        percent-encoded METHOD:PASSWORD, not base64; multi-user 2022: PASSWORD is
//        "SERVERKEY:USERKEY")
//   socks://BASE64URL(USER:PASS)@HOST:PORT#EMAIL, http[s]://USER:PASS@HOST:PORT#EMAIL
//
// Query parameters follow Xray's share-link proposal (XTLS/Xray-core discussion #716) as
// v2rayN writes them. [transport], from streamSettings: headerType, host, path (tcp http
// header; ws, httpupgrade, xhttp), seed (kcp), serviceName, authority, mode (grpc gun|multi;
// xhttp mode). [tls]: sni (serverName), alpn (joined by commas), fp (fingerprint).
// [reality]: sni (serverNames[0]), fp (chrome unless realitySettings.fingerprint), pbk
// (realitySettings.publicKey, else derived from privateKey), sid (shortIds[0]). Values are
// percent-encoded (RFC 3986 unreserved set kept), empty ones left out; the fragment is the
// percent-encoded email. Networks are named tcp (raw), ws, grpc, httpupgrade, xhttp
// (splithttp), kcp, http; VMess says h2 for http. Shadowsocks, SOCKS and HTTP links are
// plain TCP only (HTTP over TLS gives https://).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shared/base/error.h"

namespace xsup::supervisor::users {

struct LinkUser {
  std::string email;
  std::string uuid;      // VLESS/VMess
  std::string password;  // Trojan/Shadowsocks/SOCKS/HTTP
  std::string flow;      // VLESS
};

// The link for `user` on `inbound` (an element of the config's `inbounds`, as written),
// reached at `host` (xsup.publicAddress; an IPv6 literal is bracketed in the URI). The port
// is the inbound's first port. An error names what is missing (a protocol without links,
// e.g. dokodemo-door, or a user without the credential the protocol needs).
// Shadowsocks: the key is `user.password` (behind the iPSK for a multi-user 2022 inbound,
// one with a `clients` or `users` array), else settings.password; the method is that of the
// client with this email, else settings.method, else the first client's.
// A SOCKS/HTTP user name is the `user` of the account with this email, else the email.
base::Expected<std::string> share_link(const nlohmann::json& inbound, const LinkUser& user,
                                       const std::string& host);

}  // namespace xsup::supervisor::users
