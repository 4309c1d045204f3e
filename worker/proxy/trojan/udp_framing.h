#pragma once
// spec/trojan.md §3 as a DatagramFraming: ADDRESS LENGTH(2) CRLF PAYLOAD, the address
// being the destination (client to server) or the source (server to client).

#include "worker/proxy/stream_datagrams.h"

namespace xsup::worker::proxy::trojan {

extern const DatagramFraming kUdpFraming;

}  // namespace xsup::worker::proxy::trojan
