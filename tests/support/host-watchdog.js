// Preloaded (`node --require`) into the dynamic-provider host started by tests/support/provider-host.ts.
// The test process holds the write end of the host's stdin; when that process goes away for any reason
// (test finished without close(), jest worker killed, crash), stdin reaches end-of-file and the host
// exits instead of lingering. The host itself never reads stdin, so this changes nothing in the protocol.
"use strict";
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
