// Generated input (fast-check): whatever a user types, and whatever a kubeconfig holds, kvlog
// answers with one line and the documented exit code; never a stack trace, never a crash.
// Runs the whole CLI in process (run()) without a cluster: no input here can reach a network.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_LEVEL, parseDuration, parseLevel, run, type Io } from "../../src/cli.js";
import { COMPONENTS } from "../../src/components.js";
import { UsageError } from "../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "kvlog-gen-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): Io & { out: string; err: string } {
  const o = { out: "", err: "" } as Io & { out: string; err: string };
  o.stdout = { write: (s: string) => (o.out += s), isTTY: false };
  o.stderr = { write: (s: string) => (o.err += s), isTTY: false };
  o.env = {}; // no KUBECONFIG, no HOME: nothing can reach a cluster
  return o;
}

/** The shape every failed run must have: exit 2, nothing on stdout, one `kvlog:` line (after an optional level warning). */
function expectOneLine(code: number, o: { out: string; err: string }, what: string): void {
  expect(o.err, what).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
  if (code === 0) return; // --help / --version
  expect(code, what).toBe(2);
  expect(o.out, what).toBe("");
  const lines = o.err.trimEnd().split("\n").filter((l) => !l.startsWith("warning: "));
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toMatch(/^kvlog: \S/);
}

const names = COMPONENTS.flatMap((c) => [c.name, ...c.aliases]);
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom("", " ", "-", "--", ",", ",,", "a,,b", "=", "é", "日本", "\u0000", "-1", "+3", "1.5", "0x10", "٣", "2147483648", "99999999999999999999"),
);
const level = fc.oneof(fc.integer({ min: 0, max: MAX_LEVEL }).map(String), text);
/** Flags with values drawn to be wrong as often as right; --endpoint only ever gets values that are not an http(s) URL. */
const flag = fc.oneof(
  fc.tuple(
    fc.constantFrom("--node", "--pod", "-l", "--selector", "-n", "--namespace", "--pod-selector", "--context", "--token", "--token-file", "--service-account", "--chunk-size", "--concurrency", "--request-timeout", "-o", "--output", "--for", "--restore-to", "--timeout", "--to", "--components"),
    fc.oneof(text, fc.constantFrom("0", "0s", "10m", "1h30m", "25h", "1000h", "banana", "-5m", "1e3s")),
  ).map(([f, v]) => [f, v]),
  fc.tuple(fc.constant("--endpoint"), fc.constantFrom("not a url", "ftp://x", "https://u:p@h:1", "", "//x")).map(([f, v]) => [f, v]),
  fc.constantFrom(["--direct"], ["--dry-run"], ["--include-not-ready"], ["--send-token-to-nodes"], ["--insecure-skip-tls-verify"], ["--no-color"], ["--no-record"], ["--expired"], ["--bogus"], ["-x"], ["--help"]),
);
// Every command, `set` most often; without a kubeconfig (env is empty) none can reach a cluster.
const argv = fc.tuple(
  fc.oneof(fc.constant("set"), fc.constant("set"), fc.constantFrom("get", "reset", "status", "doctor", "rbac", "completion"), text),
  fc.oneof(fc.constantFrom(...names), text),
  level,
  fc.array(flag, { maxLength: 5 }),
).map(([cmd, component, lvl, flags]) => [cmd, component, lvl, ...flags.flat()]);

describe("generated command lines", () => {
  it("any argv: one line, exit 0 (help) or 2, no stack trace, no crash", async () => {
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        const o = io();
        const code = await run(args, o);
        expectOneLine(code, o, JSON.stringify(args));
      }),
      { numRuns: 400 },
    );
  });

  it("levels: whole numbers 0..2^31-1 are taken as they are; anything else is a UsageError", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_LEVEL }), (n) => parseLevel(String(n)) === n),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(text.filter((s) => !/^\d+$/.test(s) || Number(s) > MAX_LEVEL), (s) => {
        expect(() => parseLevel(s)).toThrow(UsageError);
      }),
      { numRuns: 300 },
    );
  });

  it("durations: accepted values are whole milliseconds in (0, 1h]; the rest is one UsageError line", () => {
    const duration = fc.oneof(
      text,
      fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.constantFrom("ms", "s", "m", "h", "", "x", "sec")).map(([n, u]) => `${n}${u}`),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 90 }), fc.constantFrom("h", "m", "s", "ms")), { minLength: 1, maxLength: 3 }).map((p) => p.map(([n, u]) => `${n}${u}`).join("")),
    );
    fc.assert(
      fc.property(duration, (s) => {
        try {
          const ms = parseDuration(s);
          expect(Number.isInteger(ms) && ms > 0 && ms <= 3_600_000, s).toBe(true);
        } catch (e) {
          expect(e, s).toBeInstanceOf(UsageError);
          expect((e as Error).message, s).not.toContain("\n");
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("generated kubeconfig files", () => {
  const fieldValue = fc.oneof(text, fc.constantFrom("null", "[]", "{}", "~", "'unterminated", "- a\n- b", "&a *a", "!!binary x"));
  const kubeconfig = fc.oneof(
    // Bytes and text that are not a kubeconfig at all.
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
    // YAML of the right shape with wrong parts: no server, a server that is not a URL, bad certificates,
    // an unknown current context, an exec plugin that does not exist, wrong types.
    fc
      .record({
        server: fc.constantFrom(undefined, "not a url", "", "::::", "https://"),
        ca: fc.constantFrom(undefined, "bm90IGEgY2VydA==", "%%%", ""),
        ctx: fc.constantFrom("ctx", "missing", ""),
        user: fc.oneof(
          fc.constant("token: abc"),
          fc.constant("exec: {apiVersion: client.authentication.k8s.io/v1, command: /does/not/exist/plugin}"),
          fc.constant("client-certificate-data: bm90IGEgY2VydA==\n    client-key-data: bm90IGEga2V5"),
          fieldValue.map((v) => `token: ${JSON.stringify(v)}`),
          fc.constant("[1, 2]"),
        ),
        extra: fieldValue,
      })
      .map(({ server, ca, ctx, user, extra }) =>
        Buffer.from(
          `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n` +
            (server !== undefined ? `    server: ${JSON.stringify(server)}\n` : "") +
            (ca !== undefined ? `    certificate-authority-data: ${JSON.stringify(ca)}\n` : "") +
            `contexts:\n- name: ctx\n  context: {cluster: c, user: u}\ncurrent-context: ${JSON.stringify(ctx)}\nusers:\n- name: u\n  user:\n    ${user}\nextra: ${JSON.stringify(extra)}\n`,
        ),
      ),
  );

  it("any kubeconfig that cannot be used: one line, exit 2, no stack trace", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(kubeconfig, fc.constantFrom("kubelet", "scheduler", "apiserver"), async (content, component) => {
        const file = join(dir, `k${n++}.yaml`);
        writeFileSync(file, content);
        const o = io();
        const code = await run(["set", component, "3", "--kubeconfig", file, "--request-timeout", "2s"], o);
        expectOneLine(code, o, `${component}\n${content.toString()}`);
      }),
      { numRuns: 200 },
    );
  });
});
