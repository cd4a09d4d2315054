// Inside a pod with no kubeconfig: the mounted ServiceAccount token and CA, and the
// KUBERNETES_SERVICE_HOST/PORT the kubelet sets, reach the (simulated) apiserver.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { applyAll } from "../../src/apply.js";
import { findComponent } from "../../src/components.js";
import { kubeApi, loadAccess } from "../../src/api.js";
import { planTargets } from "../../src/plan.js";
import { startFakeCluster, type FakeCluster } from "../fake/cluster.ts";

let fake: FakeCluster;
let dir: string;

beforeAll(async () => {
  fake = await startFakeCluster();
  dir = mkdtempSync(join(tmpdir(), "kvlog-sa-"));
  writeFileSync(join(dir, "token"), fake.tokenFor("kvlog"));
  writeFileSync(join(dir, "ca.crt"), fake.caPem);
  writeFileSync(join(dir, "namespace"), "kvlog-e2e");
});
afterAll(async () => {
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

it("uses the in-cluster ServiceAccount when there is no kubeconfig", async () => {
  const u = new URL(fake.url);
  const access = await loadAccess({
    insecureSkipTlsVerify: false,
    timeoutMs: 5000,
    optional: false,
    env: { HOME: "/nonexistent-home-for-kvlog", KUBERNETES_SERVICE_HOST: u.hostname, KUBERNETES_SERVICE_PORT: u.port },
    serviceAccountDir: dir,
  });
  try {
    expect(access).toBeDefined();
    expect(access!.source).toBe("in-cluster ServiceAccount");
    expect(access!.credentials.kind).toBe("bearer token (kubeconfig)");
    const kubelet = findComponent("kubelet")!;
    const targets = await planTargets({ component: kubelet, nodes: [], direct: false }, kubeApi(access!, { timeoutMs: 5000, chunkSize: 500 }), access!.server);
    const results = await applyAll(targets, { level: 2, access, timeoutMs: 5000, concurrency: 2, dryRun: false });
    expect(results.map((r) => r.outcome)).toEqual(["set", "set"]);
    expect(fake.requests.find((q) => q.path === "/api/v1/nodes/cp-1/proxy/debug/flags/v")).toMatchObject({ user: "kvlog", authorization: "bearer" });
  } finally {
    await access?.dispatcher.close();
  }
});

it("without the service host variables it is not in a pod: no kubeconfig found", async () => {
  await expect(
    loadAccess({ insecureSkipTlsVerify: false, timeoutMs: 5000, optional: false, env: { HOME: "/nonexistent-home-for-kvlog" }, serviceAccountDir: dir }),
  ).rejects.toThrow(/no kubeconfig found/);
});
