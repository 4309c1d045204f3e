#pragma once
// `xsup worker`: the process the supervisor forks and execs for one slot. It reads its
// bootstrap from the channel, demotes itself (worker/lockdown), serves the listeners it
// was handed and reports to the supervisor until told to drain or stop.

namespace xsup::worker::runtime {

// argv after "worker": --channel-fd N. Returns the process exit code.
int worker_main(int argc, char** argv);

}  // namespace xsup::worker::runtime
