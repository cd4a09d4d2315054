// bin/release.mjs leaves no temp folder behind however it ends: a failed step (die() exits at
// once, skipping finally blocks) or a signal (a cancelled CI job).
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const release = join(import.meta.dirname, "..", "..", "bin", "release.mjs");

describe("bin/release.mjs cleans up its temp folders", () => {
  let dir: string;
  let tmp: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(join(tmpdir(), "kvlog-release-test-"));
    tmp = join(dir, "tmp");
    fs.mkdirSync(tmp);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("when a step fails (exit 2)", () => {
    const r = spawnSync(process.execPath, [release, "--only", "no-such-platform"], { env: { ...process.env, TMPDIR: tmp, KVLOG_RELEASE_OUT: join(dir, "out") }, encoding: "utf8" });
    expect(r.stderr).toContain("cannot build no-such-platform here");
    expect(r.status).toBe(2);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it.runIf(process.platform === "linux" && process.arch === "x64")("when it is stopped by SIGTERM in the middle of a step", async () => {
    // An `npm` that signals it started, then waits: the run is inside its first step, its work folder made.
    const bin = join(dir, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(join(bin, "npm"), `#!/bin/sh\ntouch "${join(dir, "started")}"\nexec sleep 30\n`, { mode: 0o755 });
    const child = spawn(process.execPath, [release, "--only", "linux-amd64"], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TMPDIR: tmp, KVLOG_RELEASE_OUT: join(dir, "out") },
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let ended = false;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => ((ended = true), resolve(code))));
    while (!fs.existsSync(join(dir, "started")) && !ended) await new Promise((r) => setTimeout(r, 50));
    expect(ended, `it ended before its first step: ${stderr}`).toBe(false);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith("kvlog-release-"))).toHaveLength(1);
    process.kill(-child.pid!, "SIGTERM"); // the whole group, as a terminal or a CI runner does
    const code = await exited;
    expect(code, stderr).not.toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});
