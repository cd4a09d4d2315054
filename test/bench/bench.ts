// npm run bench: measures kvlog as a user runs it (the built CLI, a separate process) and
// prints one table: median wall time, min–max, peak RSS, and the ratio to a lower bound
// or a peer measured in the same run. It reports; nothing gates on it.
//
//   npm run bench                          every row, 3 runs each
//   npm run bench -- --runs 5 --only fleet rows whose name contains "fleet"
//   npm run bench -- --json out.json       also write the rows as JSON
//
// Fleet rows: a SIMULATED cluster (test/fake) of 1,000 and 5,000 real-size nodes with a
// kube-proxy pod on each, every kubelet and kube-proxy answering after DELAY_MS. The lower
// bound of a fleet run is targets × delay ÷ concurrency: the time the answers alone take
// at kvlog's default concurrency. The whole run (start-up, discovery of every node, page by
// page, and the fan-out) is compared with it. The simulated cluster runs in this process, on the
// same cores as kvlog: KVLOG CPU shows how much of the wall time kvlog itself was busy.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fleetNodes, startFakeCluster, type FakeCluster } from "../fake/cluster.ts";

const CLI = fileURLToPath(new URL("../../bin/kvlog.js", import.meta.url));
const PROBE = fileURLToPath(new URL("./rss-probe.mjs", import.meta.url));
const DELAY_MS = 20;
const CONCURRENCY = 32; // kvlog's default (src/cli.ts DEFAULT_CONCURRENCY)

interface Sample {
  wallMs: number;
  rssMiB: number;
  /** kvlog's own CPU time (user + system). */
  cpuMs: number;
  code: number | null;
  peakConnections?: number;
  summary?: { total: number; succeeded: number; failed: number; skipped: number };
}
interface Row {
  name: string;
  samples: Sample[];
  /** Lower bound (ms) or a peer's median, to compute the ratio against. */
  against?: { label: string; ms: number };
  note?: string;
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(flag("--runs") ?? 3);
const ONLY = flag("--only");
const JSON_OUT = flag("--json");
const tmp = mkdtempSync(join(tmpdir(), "kvlog-bench-"));

/** Runs the built CLI once, measuring wall time and the process's own peak RSS. */
function runKvlog(argv: string[], env: Record<string, string>): Promise<Sample & { stdout: string; stderr: string }> {
  const rssFile = join(tmp, `rss-${process.hrtime.bigint()}`);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", PROBE, CLI, ...argv], {
      env: { PATH: process.env.PATH, HOME: tmp, KVLOG_BENCH_RSS_FILE: rssFile, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      let rssMiB = NaN;
      let cpuMs = NaN;
      try {
        const u = JSON.parse(readFileSync(rssFile, "utf8")) as { maxRSS: number; cpuMs: number };
        rssMiB = u.maxRSS / 1024;
        cpuMs = u.cpuMs;
      } catch {
        // the probe did not write (the process was killed)
      }
      resolve({ wallMs, rssMiB, cpuMs, code, stdout, stderr });
    });
  });
}

async function fleetRows(size: number): Promise<Row[]> {
  const t0 = performance.now();
  const cluster: FakeCluster = await startFakeCluster({
    nodes: fleetNodes(size),
    defaultBehaviour: { kubelet: { delayMs: DELAY_MS }, "kube-proxy": { profiling: true, delayMs: DELAY_MS } },
  });
  const startMs = performance.now() - t0;
  const env = { KUBECONFIG: cluster.kubeconfig("admin") };
  const rows: Row[] = [];
  try {
    for (const component of ["kubelet", "kube-proxy"]) {
      for (const dry of [true, false]) {
        const name = `fleet ${size} nodes: set ${component}${dry ? " --dry-run (start-up + discovery)" : ""}`;
        if (ONLY && !name.includes(ONLY)) continue;
        const samples: Sample[] = [];
        for (let i = 0; i < RUNS; i++) {
          cluster.resetStats();
          const r = await runKvlog(["set", component, String(2 + (i % 3)), "-o", "json", ...(dry ? ["--dry-run"] : [])], env);
          let summary: Sample["summary"];
          try {
            summary = JSON.parse(r.stdout).summary;
          } catch {
            process.stderr.write(`bench: ${name}: no JSON (exit ${r.code}): ${r.stderr.slice(0, 300)}\n`);
          }
          samples.push({ wallMs: r.wallMs, rssMiB: r.rssMiB, cpuMs: r.cpuMs, code: r.code, peakConnections: cluster.stats().peakConnections, summary });
        }
        const lower = (size * DELAY_MS) / CONCURRENCY;
        rows.push({
          name,
          samples,
          against: dry ? undefined : { label: `lower bound ${size}×${DELAY_MS} ms÷${CONCURRENCY}`, ms: lower },
          note: `fake cluster started in ${(startMs / 1000).toFixed(1)} s`,
        });
        process.stderr.write(`bench: ${name}: done\n`);
      }
    }
  } finally {
    await cluster.close();
  }
  return rows;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

function render(rows: Row[]): string {
  const header = ["ROW", "MEDIAN", "MIN–MAX", "KVLOG CPU", "PEAK RSS", "CONNS", "RESULT", "RATIO"];
  const lines = rows.map((r) => {
    const walls = r.samples.map((s) => s.wallMs);
    const med = median(walls);
    const rss = Math.max(...r.samples.map((s) => s.rssMiB));
    const conns = Math.max(...r.samples.map((s) => s.peakConnections ?? 0));
    const s = r.samples.at(-1)?.summary;
    const result = s ? `${s.succeeded} set/ok, ${s.failed} failed, ${s.skipped} skipped` : `exit ${r.samples.at(-1)?.code}`;
    const ratio = r.against ? `${(med / r.against.ms).toFixed(2)}× ${r.against.label} (${fmtMs(r.against.ms)})` : "-";
    const cpu = median(r.samples.map((x) => x.cpuMs));
    return [r.name, fmtMs(med), `${fmtMs(Math.min(...walls))}–${fmtMs(Math.max(...walls))}`, fmtMs(cpu), `${rss.toFixed(0)} MiB`, String(conns), result, ratio];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [header, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

const rows: Row[] = [];
for (const size of [1000, 5000]) rows.push(...(await fleetRows(size)));
rmSync(tmp, { recursive: true, force: true });

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}`;
process.stdout.write(`kvlog bench ${new Date().toISOString().slice(0, 10)} on ${machine}; ${RUNS} run(s) a row\n`);
process.stdout.write(`${render(rows)}\n`);
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ date: new Date().toISOString(), machine, runs: RUNS, rows }, null, 2));
