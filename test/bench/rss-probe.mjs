// Preloaded into the kvlog process by bench.ts (node --import): writes the process's own
// peak resident set size (KiB, getrusage) to KVLOG_BENCH_RSS_FILE when it exits.
import { writeFileSync } from "node:fs";

const file = process.env.KVLOG_BENCH_RSS_FILE;
if (file) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
