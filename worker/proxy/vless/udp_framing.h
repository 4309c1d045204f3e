#pragma once
// spec/vless.md §6.2 as a DatagramFraming: LENGTH(2) PAYLOAD, the destination fixed by the
// request header.

#include "worker/proxy/stream_datagrams.h"

namespace xsup::worker::proxy::vless {

extern const DatagramFraming kUdpFraming;

}  // namespace xsup::worker::proxy::vless
