#pragma once
// Share links (`xsup user link`): the URI forms clients import, built from one inbound of
// the configuration as written (its JSON object, so that every protocol's fields are at
// hand) and one user's credentials.
//
//   vless://UUID@HOST:PORT?encryption=none&type=…&security=…[&flow=…][&sni=…]…#EMAIL
//   vmess://BASE64(v2rayN JSON: v, ps, add, port, id, aid, scy, net, type, host, path, tls,
//            sni, alpn)
//   trojan://PASSWORD@HOST:PORT?security=…&type=…[&sni=…]…#EMAIL
//   ss://BASE64URL(METHOD:PASSWORD)@HOST:PORT#EMAIL (SIP002; 2022 methods: percent-encoded
//        METHOD:PASSWORD userinfo, not base64)
//   socks://BASE64(USER:PASS)@HOST:PORT#EMAIL, http://USER:PASS@HOST:PORT#EMAIL
//
// Transport parameters come from the inbound's streamSettings (network, ws/grpc/httpupgrade/
// xhttp path, host and serviceName, tcp http header type and host); security parameters from
// tlsSettings (serverName -> sni, alpn, fingerprint -> fp) or realitySettings (serverNames[0]
// -> sni, the public key given in xsup.publicKeys is not known here: pbk is left out).

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
base::Expected<std::string> share_link(const nlohmann::json& inbound, const LinkUser& user,
                                       const std::string& host);

}  // namespace xsup::supervisor::users
