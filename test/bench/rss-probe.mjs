// Preloaded into the kvlog process by bench.ts (node --import): writes the process's own
// peak resident set size (KiB) and CPU time (ms, user + system), from getrusage, to
// KVLOG_BENCH_RSS_FILE when it exits.
import { writeFileSync } from "node:fs";

const file = process.env.KVLOG_BENCH_RSS_FILE;
if (file) {
  process.on("exit", () => {
    const u = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ maxRSS: u.maxRSS, cpuMs: Math.round((u.userCPUTime + u.systemCPUTime) / 1000) }));
  });
}
