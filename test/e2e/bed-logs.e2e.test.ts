// End-to-end: the local cluster's logs are the components' real logs, reachable the way a
// user (and `kvlog capture`) reaches them on a real cluster:
//  - `kubectl logs` of a mirror pod / a kube-proxy pod is the output of the real process the pod
//    stands for (fakecri --container-log: the host log tailed into the container's CRI log file),
//    with the runtime's timestamps, -f and --since-time;
//  - a raised level shows in that pod log (messages written only at -v=5 and above) and stops
//    when the level is back;
//  - each kubelet's own log through its /logs/ (the node's /var/log/kubelet.log) via the
//    apiserver's node proxy, as a file and through the node log query.
// README: test/e2e/cluster/README.md, "Logs".

import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { kvlog } from "../integration/run.ts";

const exec = promisify(execFile);
const STATE = process.env.KVLOG_E2E_DIR ?? "/tmp/kvlog-e2e";
const ADMIN = `${STATE}/admin.kubeconfig`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let KUBECTL = "kubectl";
let cluster: any;

async function kubectl(args: string[]): Promise<string> {
  return (await exec(KUBECTL, ["--kubeconfig", ADMIN, ...args], { maxBuffer: 256 * 1024 * 1024 })).stdout;
}
async function kvlogAdmin(args: string[]) {
  const r = await kvlog(args, { KUBECONFIG: ADMIN }, 60_000);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r;
}

/** `<RFC3339Nano> stderr F <klog line>`, as `kubectl logs --timestamps` prints a CRI log line (the stream and tag dropped). */
const TIMESTAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) ([IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6} .*)$/;
/** client-go's leader election, every renewal (2 s): `klog.V(5)` ("successfully renewed lease" before 1.31). */
const RENEWED = (lock: string) => new RegExp(`leaderelection\\.go:\\d+\\] "?[Ss]uccessfully renewed lease"? ?(lock=)?"?${lock.replace("/", "\\/")}`);
/** The apiserver library's mux, every request to the secure port (the kubelet's probes): `klog.V(5)`. */
const PATHRECORDER = /pathrecorder\.go:\d+\] kube-scheduler: "\/(livez|readyz|healthz)" satisfied by exact match/;

beforeAll(async () => {
  cluster = JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8"));
  KUBECTL = cluster.kubectl;
});

function hostLines(path: string): Set<string> {
  return new Set(readFileSync(path, "utf8").split("\n").filter(Boolean));
}

describe("the test bed's pod logs are the components' real logs", () => {
  it("kubectl logs --timestamps of the scheduler's mirror pod: the real scheduler's klog lines, each in its host log, with the runtime's timestamps", async () => {
    const sched = cluster.components["kube-scheduler"];
    const out = await kubectl(["-n", "kube-system", "logs", sched.pod, "--timestamps"]);
    const lines = out.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(20);
    const host = hostLines(sched.log);
    for (const l of lines) {
      const m = TIMESTAMPED.exec(l);
      expect(m, `not a timestamped klog line: ${l}`).not.toBeNull();
      expect(host.has(m![2]!), `not in ${sched.log}: ${l}`).toBe(true);
      // The runtime stamps a line when it reads it: never before klog wrote it (klog's time has no year or zone; both are UTC here).
      const klogTime = Date.parse(`${m![1]!.slice(0, 4)}-${m![2]!.slice(1, 3)}-${m![2]!.slice(3, 5)}T${m![2]!.slice(6, 21)}Z`);
      expect(Date.parse(m![1]!) + 1, l).toBeGreaterThanOrEqual(klogTime);
    }
    // Its own startup, as the real scheduler logs it.
    expect(out).toMatch(/leaderelection\.go:\d+\] "?[Ss]uccessfully acquired lease"? ?(lock=)?"?kube-system\/kube-scheduler/);
    // The other pods too: each its own process's log. Looked up by selector and node (another
    // test may have deleted a kube-proxy pod: its replacement's log starts at the end of the host
    // log, as a new container's starts with its process, so it may still be empty).
    for (const [name, c] of Object.entries<any>(cluster.components)) {
      if (!c.selector || name === "kube-scheduler") continue;
      const pods = JSON.parse(await kubectl(["-n", c.namespace, "get", "pods", "-l", c.selector, "--field-selector", `spec.nodeName=${c.node}`, "-o", "json"])).items;
      expect(pods.length, `${name}: pods ${c.selector} on ${c.node}`).toBe(1);
      const pl = (await kubectl(["-n", c.namespace, "logs", pods[0].metadata.name, "--tail", "50"])).split("\n").filter(Boolean);
      const hl = hostLines(c.log);
      if (pods[0].metadata.name === c.pod) expect(pl.length, name).toBeGreaterThan(0);
      expect(pl.filter((l) => !hl.has(l)), `${name}: pod log lines not in ${c.log}`).toEqual([]);
    }
    expect(await kubectl(["-n", "kube-system", "logs", cluster.components["cloud-controller-manager"].pod])).toMatch(/kvlog-e2e: fake cloud "kvlog-fake"/);
  });

  it("a raise to 6 shows in the scheduler pod's log (V(5) lease renewals and mux lines, via kubectl logs -f --since-time) and stops when the level is back", async () => {
    const sched = cluster.components["kube-scheduler"];
    const renewed = RENEWED("kube-system/kube-scheduler");
    await kvlogAdmin(["set", "scheduler", "1", "--pod", sched.pod]);
    const since = new Date(Date.now() + 1000).toISOString();
    await sleep(1500);
    // Follow the pod log from `since` while the level goes 1 -> 6.
    const follow = spawn(KUBECTL, ["--kubeconfig", ADMIN, "-n", "kube-system", "logs", "-f", sched.pod, `--since-time=${since}`]);
    let followed = "";
    follow.stdout.on("data", (d) => (followed += d));
    try {
      await sleep(3000);
      expect(followed.split("\n").filter((l) => renewed.test(l) || PATHRECORDER.test(l)), "V(5) lines at -v=1").toEqual([]);
      await kvlogAdmin(["set", "scheduler", "6", "--pod", sched.pod]);
      const deadline = Date.now() + 20_000;
      while (!(renewed.test(followed) && PATHRECORDER.test(followed)) && Date.now() < deadline) await sleep(500);
      expect(followed.split("\n").find((l) => renewed.test(l)), "a V(5) lease renewal in the followed pod log").toBeDefined();
      expect(followed.split("\n").find((l) => PATHRECORDER.test(l)), "a V(5) mux line in the followed pod log").toBeDefined();
    } finally {
      follow.kill();
      await kvlogAdmin(["set", "scheduler", "1", "--pod", sched.pod]);
    }
    await sleep(1500);
    const back = new Date().toISOString();
    await sleep(4000);
    const after = await kubectl(["-n", "kube-system", "logs", sched.pod, `--since-time=${back}`]);
    expect(after.split("\n").filter((l) => renewed.test(l) || PATHRECORDER.test(l)), "V(5) lines after the level is back at 1").toEqual([]);
  });
});

describe("each kubelet's own log through its /logs/ (the apiserver's node proxy)", () => {
  it("/logs/kubelet.log, /logs/?query=kubelet: that kubelet's real log; options refused for a file-backed service", async () => {
    for (const n of cluster.nodes) {
      const node = encodeURIComponent(n.name);
      const path = cluster.components[`kubelet-${n.name}`].log;
      const listing = await kubectl(["get", "--raw", `/api/v1/nodes/${node}/proxy/logs/`]);
      expect(listing, n.name).toContain('<a href="kubelet.log">kubelet.log</a>');
      const file = await kubectl(["get", "--raw", `/api/v1/nodes/${node}/proxy/logs/kubelet.log`]);
      const host = readFileSync(path, "utf8");
      expect(file.length, n.name).toBeGreaterThan(1000);
      expect(host.startsWith(file), `${n.name}: /logs/kubelet.log is not ${path}`).toBe(true);
      // Its own process: the kubelet logs its node name at startup.
      expect(file, n.name).toMatch(new RegExp(`"Attempting to register node" node="${n.name}"|Attempting to register node.*${n.name}`));
      // The node log query: no journald unit here, so the service falls back to /var/log/kubelet.log.
      const query = await kubectl(["get", "--raw", `/api/v1/nodes/${node}/proxy/logs/?query=kubelet`]);
      expect(query.length, n.name).toBeGreaterThan(1000);
      expect(host.startsWith(query), `${n.name}: ?query=kubelet is not ${path}`).toBe(true);
      const opts = await kubectl(["get", "--raw", `/api/v1/nodes/${node}/proxy/logs/?query=kubelet&tailLines=5`]);
      expect(opts).toBe("\noptions present and query resolved to log files for [kubelet]\ntry without specifying options\n");
    }
  });
});
