// logs: capture's view of a target's log, one import for src/run/capture.ts. Where a target's log
// can be read through the API, and one follower per target that writes it to a file as the bytes
// arrive (never a whole log in memory), counting lines per phase (before the raise, during, after
// the restore) and per slice of the window as it writes. The parts, one concern each:
//
//   logs/sources.ts  where a target's log is (pods/log, the kubelet's /logs/, or none and why)
//   logs/writer.ts   the LogWriter (one bundle file, counted by phase and slice) and the stats
//   logs/read.ts     the shared LogContext and the reads (streamed, or whole and bounded)
//   logs/pods.ts     following a pod's log (reconnects, container restarts, queued reads)
//   logs/kubelet.ts  the kubelet's log: the node log query, else /var/log/kubelet.log
//   logs/time.ts     the time at a line's start (RFC 3339, journald, klog)

export { readKubeletLog, POLL_MS } from "./logs/kubelet.js";
export { readPodLog } from "./logs/pods.js";
export { closeLogDispatcher, type LogContext } from "./logs/read.js";
export { apiserverPodsByHost, KUBELET_LOG_CONFIG, sourceFor } from "./logs/sources.js";
export { journalMs, klogMs, nodeLineTime, rfc3339Ms } from "./logs/time.js";
export { BASELINE_MS, LogWriter, safeFileName, SLICES, type LogOutcome, type LogSource, type LogStats, type Phases, type SourceKind } from "./logs/writer.js";
export { Slots } from "./slots.js";
