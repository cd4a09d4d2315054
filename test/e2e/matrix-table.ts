// The e2e matrix's one table (run by matrix.sh): test × Kubernetes version → pass / FAIL / n/a,
// from each version's vitest JSON report (e2e.json) and times.json. A test that does not apply
// to a version says why in its meta (`notApplicable`), one that asserted what that version does
// differently says what (`versionBranch`, both set by the suite); each is listed once under the
// table, and so is the first line of each failure.
//
//   node test/e2e/matrix-table.ts RESULTS_DIR VERSION...
//
// Prints the table (Markdown) and writes it to RESULTS_DIR/table.md. Exit 1 when a version
// that is not an allowed failure did not build, come up or pass.

import { existsSync, readFileSync, writeFileSync } from "node:fs";

interface Times {
  version: string;
  allowedFailure: boolean;
  build: { rc: number; seconds: number; cached: number };
  up: { rc: number | null; seconds: number | null };
  suite: { rc: number | null; seconds: number | null };
}
interface Assertion {
  fullName: string;
  status: string;
  failureMessages?: string[];
  meta?: { notApplicable?: string; versionBranch?: string };
}
interface Report {
  testResults: { assertionResults: Assertion[]; message?: string }[];
}

const [dir, ...asked] = process.argv.slice(2);
// Columns oldest first, whatever order the versions ran in.
const semver = (v: string) => (v.match(/\d+/g) ?? []).map(Number);
const versions = [...asked].sort((a, b) => {
  const [x, y] = [semver(a), semver(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? -1) !== (y[i] ?? -1)) return (x[i] ?? -1) - (y[i] ?? -1);
  return 0;
});
if (!dir || versions.length === 0) {
  console.error("usage: matrix-table.ts RESULTS_DIR VERSION...");
  process.exit(2);
}

const times = new Map<string, Times>();
const reports = new Map<string, Map<string, Assertion>>();
const order: string[] = [];
for (const v of versions) {
  const t = `${dir}/${v}/times.json`;
  if (existsSync(t)) times.set(v, JSON.parse(readFileSync(t, "utf8")) as Times);
  const j = `${dir}/${v}/e2e.json`;
  if (!existsSync(j)) continue;
  const r = JSON.parse(readFileSync(j, "utf8")) as Report;
  const m = new Map<string, Assertion>();
  for (const f of r.testResults) {
    for (const a of f.assertionResults) {
      m.set(a.fullName, a);
      if (!order.includes(a.fullName)) order.push(a.fullName);
    }
  }
  reports.set(v, m);
}

const reasons: string[] = [];
const branches: string[] = [];
const branch = (note: string) => {
  if (!branches.includes(note)) branches.push(note);
  return `pass (${String.fromCharCode(97 + branches.indexOf(note))})`;
};
const failures: string[] = [];
const note = (reason: string) => {
  if (!reasons.includes(reason)) reasons.push(reason);
  return `n/a [${reasons.indexOf(reason) + 1}]`;
};
const secs = (s: number | null | undefined) => (s === null || s === undefined ? "–" : s >= 120 ? `${Math.round(s / 60)} min` : `${s} s`);

const head = ["", ...versions.map((v) => (times.get(v)?.allowedFailure ? `${v} (allowed to fail)` : v))];
const rows: string[][] = [];
rows.push([
  "build (this run)",
  ...versions.map((v) => {
    const t = times.get(v);
    if (!t) return "–";
    if (t.build.rc !== 0) return "FAIL";
    return t.build.cached === 8 ? `cached (${secs(t.build.seconds)})` : secs(t.build.seconds);
  }),
]);
rows.push([
  "cluster up",
  ...versions.map((v) => {
    const t = times.get(v);
    if (!t || t.up.rc === null) return "–";
    return t.up.rc === 0 ? secs(t.up.seconds) : "FAIL";
  }),
]);
rows.push([
  "suite",
  ...versions.map((v) => {
    const t = times.get(v);
    const r = reports.get(v);
    if (!t || t.suite.rc === null || !r) return "–";
    const all = [...r.values()];
    const n = (s: string) => all.filter((a) => a.status === s).length;
    return `${n("passed")} pass, ${n("failed")} fail, ${all.length - n("passed") - n("failed")} n/a (${secs(t.suite.seconds)})`;
  }),
]);
for (const name of order) {
  rows.push([
    name,
    ...versions.map((v) => {
      const a = reports.get(v)?.get(name);
      if (!a) return "–";
      if (a.status === "passed") return a.meta?.versionBranch ? branch(a.meta.versionBranch) : "pass";
      if (a.status === "failed") {
        const first = (a.failureMessages?.[0] ?? "").split("\n").find((l) => l.trim()) ?? "";
        failures.push(`- ${v} — ${name}: ${first.trim().slice(0, 300)}`);
        return "FAIL";
      }
      return a.meta?.notApplicable ? note(a.meta.notApplicable) : a.status;
    }),
  ]);
}

const esc = (s: string) => s.replaceAll("|", "\\|");
const lines = [
  `| ${head.map(esc).join(" | ")} |`,
  `|${head.map(() => "---").join("|")}|`,
  ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
];
if (branches.length > 0) lines.push("", "Passed on what this version does differently:", ...branches.map((b, i) => `- (${String.fromCharCode(97 + i)}) ${b}`));
if (reasons.length > 0) lines.push("", "Not applicable:", ...reasons.map((r, i) => `${i + 1}. ${r}`));
if (failures.length > 0) lines.push("", "Failures:", ...failures);
const text = lines.join("\n") + "\n";
writeFileSync(`${dir}/table.md`, text);
process.stdout.write(text);

const bad = versions.filter((v) => {
  const t = times.get(v);
  if (t?.allowedFailure) return false;
  return !t || t.build.rc !== 0 || t.up.rc !== 0 || t.suite.rc !== 0;
});
if (bad.length > 0) {
  console.log(`matrix: failed on ${bad.join(", ")}`);
  process.exit(1);
}
console.log(`matrix: ${versions.length} versions, every required one passed`);
