// kvlog capture (issue 17), run in-process (src/cli.ts run()) against the simulated cluster, for
// the faults a separate process cannot be made to meet on cue:
// - the raise throws part-way (here: writing the queue notice for the second kube-proxy fails
//   after both kube-proxies were raised): the run still puts back every target it changed, says
//   so on stderr, and ends in an error;
// - nothing matched (exit 3): no empty bundle directory is left behind, and an empty --out the
//   user made is left as it was.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type Io } from "../../src/cli.ts";
import { startFakeCluster, type FakeCluster } from "../fake/cluster.ts";

const PROXY_CP = "kube-proxy/kube-system/kube-proxy-aaaaa";
const PROXY_W = "kube-proxy/kube-system/kube-proxy-bbbbb";

const dir = mkdtempSync(join(tmpdir(), "kvlog-capture-faults-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let f: FakeCluster;
beforeAll(async () => {
  f = await startFakeCluster({ defaultBehaviour: { "kube-proxy": { profiling: true, startupLevel: 0 } } });
});
afterAll(() => f.close());

const puts = (id: string): string[] => f.requests.filter((q) => q.target === id && q.method === "PUT" && q.path === "/debug/flags/v").map((q) => q.body);

/** One in-process run; `failOn`: a stderr write matching it throws (once), as a failing write would. */
async function capture(args: string[], failOn?: RegExp): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  let failed = false;
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: {
      write: (s: string) => {
        if (failOn && !failed && failOn.test(s)) {
          failed = true;
          throw new Error("write EIO (simulated)");
        }
        stderr += s;
        return true;
      },
    },
    env: { KUBECONFIG: f.kubeconfig("kvlog"), NO_COLOR: "1" },
  };
  const code = await run(["capture", ...args], io);
  return { code, stdout, stderr };
}

describe("a raise that throws part-way", () => {
  it("puts back every target it already changed, says so, and ends in an error", async () => {
    const before = [puts(PROXY_CP).length, puts(PROXY_W).length];
    // --max-log-requests 1 with two kube-proxies: the second's log waits for a stream, and the
    // notice of it is written from inside the raise, after that kube-proxy was raised.
    const r = await capture(["kube-proxy", "5", "--for", "30s", "--max-log-requests", "1", "--out", join(dir, "thrown")], /more targets than --max-log-requests/);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/unexpected error: write EIO \(simulated\)/);
    // Both were raised (the throw came after the second PUT) and both are back at their startup level (0).
    expect([puts(PROXY_CP).slice(before[0]), puts(PROXY_W).slice(before[1])], r.stderr).toEqual([
      ["5", "0"],
      ["5", "0"],
    ]);
    expect(r.stderr).toMatch(/^warning: the run stopped on an error after changing 2 target\(s\): 2 put back$/m);
  }, 60_000);
});

describe("nothing matched (exit 3)", () => {
  it("leaves no bundle directory behind", async () => {
    const out = join(dir, "nothing");
    const r = await capture(["scheduler", "5", "--for", "30s", "-l", "app=no-such-app", "--out", out]);
    expect(r.code, r.stderr).toBe(3);
    expect(existsSync(out), `${out} was left behind`).toBe(false);
  }, 60_000);

  it("an empty --out the user made is left as it was (empty, still there)", async () => {
    const out = join(dir, "mine");
    mkdirSync(out);
    const r = await capture(["scheduler", "5", "--for", "30s", "-l", "app=no-such-app", "--out", out]);
    expect(r.code, r.stderr).toBe(3);
    expect(readdirSync(out)).toEqual([]);
  }, 60_000);
});
