// Runs the built CLI (bin/kvlog.js -> dist/) as a separate process, the way users run it.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../bin/kvlog.js", import.meta.url));

/**
 * Each run's HOME: an empty folder of its own, so no test ever reads the developer's own
 * ~/.kube/config (a test that forgot KUBECONFIG fails instead of touching a real cluster).
 * Removed when the run ends.
 */
const newHome = (): string => mkdtempSync(join(tmpdir(), "kvlog-home-"));
/** Homes of runs still going: removed when the test process exits (a run it did not wait for). */
const liveHomes = new Set<string>();
process.once("exit", () => {
  for (const h of liveHomes) rmSync(h, { recursive: true, force: true });
});

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  json(): any;
}

export function kvlog(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 30_000,
  /** Called with the child once started (e.g. to send it a signal). */
  started?: (child: import("node:child_process").ChildProcess) => void,
): Promise<CliRun> {
  const HOME = newHome();
  liveHomes.add(HOME);
  const removeHome = (): void => {
    rmSync(HOME, { recursive: true, force: true });
    liveHomes.delete(HOME);
  };
  return new Promise<CliRun>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`kvlog ${args.join(" ")} did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    started?.(child);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, json: () => JSON.parse(stdout) });
    });
  }).finally(removeHome);
}
