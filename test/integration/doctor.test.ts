// `kvlog doctor`: the built CLI, as a separate process, against the in-process simulated cluster.
// It proves that doctor
// - changes nothing: no PUT reaches any component, every level stays as it was, no record is
//   written; it only asks SelfSubjectAccessReviews and GETs /debug/flags/v (406 = served);
// - tells each identity what it may do: admin and the README role (the fake's `kvlog` user) get
//   every target `ready`; an identity with `put` but not `get` on /debug/flags/v gets
//   `cannot-probe` warnings; `recordless` only record warnings; `nobody` the exact rules to grant;
// - names each broken target with its fix: kube-proxy without profiling (`not-installed`), a kubelet
//   whose flags handler is off (`disabled`), a controller-manager older than 1.23 (`too-old`);
// - sums nodes that are down into one `skipped` warning, never probes them, never fails on them;
// - treats a component the cluster does not run as a warning, unless it was named;
// - asks for `create` on pods/portforward from 1.35 only;
// - prints one JSON document (`-o json`) or a COMPONENT CHECK RESULT DETAIL table, and no secret.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPods, KVLOG_RULES, startFakeCluster, type FakeCluster, type FakeNodeSpec, type FakeRule } from "../fake/cluster.ts";
import type { Finding } from "../../src/run/doctor.js";
import { kvlog, type CliRun } from "./run.ts";

const SCHED = "kube-scheduler/kube-system/kube-scheduler-cp-1";
const KCM = "kube-controller-manager/kube-system/kube-controller-manager-cp-1";
const CCM = "cloud-controller-manager/kube-system/cloud-controller-manager-x2v8q";
const PROXY_CP = "kube-proxy/kube-system/kube-proxy-aaaaa";
const PROXY_W = "kube-proxy/kube-system/kube-proxy-bbbbb";
const COMPONENTS = ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager", "kubelet", "kube-proxy"];
const CONTROL_PLANE = COMPONENTS.slice(0, 4);

/** Some verbs of KVLOG_RULES changed: `rule` is the first resource or non-resource URL of a rule. */
const rulesWith = (rule: string, verbs: string[]): FakeRule[] => KVLOG_RULES.map((r) => ((r.resources ?? r.nonResourceURLs)?.[0] === rule ? { ...r, verbs } : r));
const CUSTOM = [
  // May change the components (put) but not probe them (get on /debug/flags/v).
  { name: "putonly", rules: rulesWith("/debug/flags/v", ["put"]) },
  // May change kubelets (update), may not read their startup level (get).
  { name: "updonly", rules: rulesWith("nodes/proxy", ["update"]) },
  // WebSocket port-forwards before 1.35 need only `get`.
  { name: "nocreate", rules: rulesWith("pods/portforward", ["get"]) },
];
const USERS = ["admin", "kvlog", "recordless", "nobody", ...CUSTOM.map((u) => u.name)];

interface Doctor extends CliRun {
  results: Finding[];
  doc: any;
}

let healthy: FakeCluster; // v1.34, everything on
let broken: FakeCluster; // v1.34, one broken target per kind of breakage
let v136: FakeCluster; // v1.36, two nodes down, no cloud-controller-manager

/** Every run: no user's token, no key, no stack trace; doctor always says it changed nothing. */
async function run(f: FakeCluster, args: string[], user = "admin"): Promise<CliRun> {
  const r = await kvlog(["doctor", ...args], { KUBECONFIG: f.kubeconfig(user) });
  const out = r.stdout + r.stderr;
  for (const u of USERS) expect(out).not.toContain(f.tokenFor(u));
  expect(out).not.toMatch(/PRIVATE KEY|    at .*\(.*:\d+:\d+\)/);
  expect(r.stderr).toMatch(new RegExp(`^checked as ${user} against Kubernetes v1\\.3[46]\\.\\d+: .*; nothing was changed\\n$`));
  return r;
}
async function doctor(f: FakeCluster, args: string[], user = "admin"): Promise<Doctor> {
  const r = await run(f, [...args, "-o", "json"], user);
  const doc = r.json();
  return { ...r, doc, results: doc.results };
}
const of = (d: Doctor, kind: Finding["kind"], component?: string) => d.results.filter((f) => f.kind === kind && (!component || f.component === component));
const targetOf = (d: Doctor, id: string) => d.results.find((f) => f.target?.id === id);
const row = (f: Finding) => `${f.component} | ${f.target?.id ?? f.check} | ${f.verdict} | ${f.severity}`;
const levels = (f: FakeCluster) => Object.fromEntries(f.targets().map((t) => [t, f.level(t)]));
const puts = (f: FakeCluster) => f.requests.filter((q) => q.method === "PUT");

beforeAll(async () => {
  const down: FakeNodeSpec[] = [{ name: "cp-1", controlPlane: true }, { name: "worker-1" }, { name: "worker-2", readyCondition: "Unknown" }, { name: "worker-3", readyCondition: "Unknown" }];
  [healthy, broken, v136] = await Promise.all([
    startFakeCluster({
      portForwardCreateCheck: false, // as a 1.34 apiserver
      users: CUSTOM,
      behaviour: { [SCHED]: { startupLevel: 2 }, "kubelet/worker-1": { startupLevel: 3 } },
      defaultBehaviour: { "kube-proxy": { profiling: true } },
    }),
    startFakeCluster({
      portForwardCreateCheck: false,
      users: CUSTOM,
      nodes: [{ name: "cp-1", controlPlane: true }, { name: "worker-1" }, { name: "worker-2" }],
      behaviour: { [PROXY_W]: { profiling: false }, "kubelet/worker-1": { debugFlagsHandler: false }, "kubelet/worker-2": { debuggingHandlers: false }, [KCM]: { version: "v1.22.17" } },
      defaultBehaviour: { "kube-proxy": { profiling: true } },
    }),
    startFakeCluster({
      version: "v1.36.3",
      users: CUSTOM,
      nodes: down,
      pods: defaultPods(down).filter((p) => p.component !== "cloud-controller-manager"),
      defaultBehaviour: { "kube-proxy": { profiling: true } },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([healthy?.close(), broken?.close(), v136?.close()]);
});

describe("identities on a healthy cluster", () => {
  it("admin: every permission ok, every target ready, and nothing changed (no PUT, same levels, no record)", async () => {
    const before = levels(healthy);
    const from = healthy.requests.length;
    const d = await doctor(healthy, []);
    expect(d.code).toBe(0);
    expect(d.stderr).toBe("checked as admin against Kubernetes v1.34.1: kvlog can change every target found; nothing was changed\n");
    expect(of(d, "permission").length).toBeGreaterThanOrEqual(30);
    expect(of(d, "permission").filter((f) => !f.ok)).toEqual([]);
    expect(of(d, "discovery").map((f) => `${f.component} ${f.verdict}`)).toEqual(COMPONENTS.map((c) => `${c} ok`));
    const port = new URL(healthy.url).port;
    const ids = healthy.targets().map((t) => (t === "kube-apiserver" ? `kube-apiserver/127.0.0.1:${port}` : t));
    expect(of(d, "target").map((f) => f.target!.id).sort()).toEqual(ids.sort());
    for (const f of of(d, "target")) expect(f, f.target!.id).toMatchObject({ ok: true, verdict: "ready", severity: "required", hint: null });
    expect(d.doc).toMatchObject({ ok: true, user: "admin", serverVersion: "v1.34.1", summary: { problems: 0, warnings: 0 } });
    // The probe reached every target, as a GET answered 406; nothing else touched them.
    const seen = healthy.requests.slice(from);
    for (const t of healthy.targets()) expect(seen.some((q) => q.target === t && q.method === "GET" && q.path === "/debug/flags/v" && q.status === 406), t).toBe(true);
    expect(puts(healthy)).toEqual([]);
    expect(seen.filter((q) => q.path.includes("/configmaps"))).toEqual([]);
    expect(levels(healthy)).toEqual(before);
    expect(before[SCHED]).toBe(2); // the startup levels, not a level doctor set
    for (const c of COMPONENTS) expect(healthy.configMap("kube-system", `kvlog-${c}`)).toBeUndefined();
  });

  it("kvlog (the README role): admin's verdicts; without get on /debug/flags/v the probe is a warning", async () => {
    const admin = await doctor(healthy, []);
    const d = await doctor(healthy, [], "putonly");
    expect(d.code).toBe(0);
    expect(d.results.filter((f) => f.kind !== "target" && !f.ok)).toEqual([]);
    for (const f of of(d, "target")) {
      if (CONTROL_PLANE.includes(f.component)) {
        // Only `put` on /debug/flags/v: the components refuse the GET probe (403).
        expect(f, f.target!.id).toMatchObject({ verdict: "cannot-probe", severity: "optional", ok: false });
        expect(f.hint).toBe('grant nonResourceURLs ["/debug/flags/v"] verbs ["get"] for the probe (kvlog rbac has it)');
      } else expect(f, f.target!.id).toMatchObject({ verdict: "ready", ok: true });
    }
    expect(d.stderr).toBe(`checked as putonly against Kubernetes v1.34.1: kvlog can change every target found, 4 warning(s); nothing was changed\n`);
    const readme = await doctor(healthy, [], "kvlog");
    expect(readme.code).toBe(0);
    expect(readme.results.map(row)).toEqual(admin.results.map(row));
    expect(readme.doc.summary).toEqual({ checks: admin.results.length, problems: 0, warnings: 0 });
    expect(puts(healthy)).toEqual([]);
  });

  it("recordless: exit 0, the record's get and update are optional warnings that name the ConfigMap", async () => {
    const d = await doctor(healthy, [], "recordless");
    expect(d.code).toBe(0);
    const record = of(d, "permission").filter((f) => f.check.endsWith("(the record)"));
    expect(record).toHaveLength(2 * COMPONENTS.length);
    for (const f of record) {
      const name = `kvlog-${f.component}`;
      expect(f.check).toMatch(new RegExp(`^may (get|update) configmap kube-system/${name} \\(the record\\)$`));
      expect(f).toMatchObject({ ok: false, verdict: "missing", severity: "optional", message: "not allowed" });
      expect(f.hint).toBe(`grant apiGroups [""] resources ["configmaps"] resourceNames ["${name}"] verbs ["get", "update"] in namespace kube-system (kvlog rbac prints it)`);
    }
    expect(of(d, "permission").filter((f) => !record.includes(f) && !f.ok)).toEqual([]);
    expect(d.doc.ok).toBe(true);
    expect(d.stderr).toMatch(/kvlog can change every target found, \d+ warning\(s\); nothing was changed/);
  });

  it("nobody: exit 1, every required permission missing with the exact rule to grant, discovery failed", async () => {
    const d = await doctor(healthy, [], "nobody");
    expect(d.code).toBe(1);
    const rule: Record<string, string> = {
      "may put /debug/flags/v": 'nonResourceURLs ["/debug/flags/v"] verbs ["put"]',
      "may get endpoints default/kubernetes (every replica)": 'apiGroups [""] resources ["endpoints"] resourceNames ["kubernetes"] verbs ["get"]',
      "may list nodes": 'apiGroups [""] resources ["nodes"] verbs ["get", "list"]',
      "may list pods in kube-system": 'apiGroups [""] resources ["pods"] verbs ["get", "list"]',
      "may get pods/portforward in kube-system": 'apiGroups [""] resources ["pods/portforward"] verbs ["get", "create"]',
      "may update nodes/proxy": 'apiGroups [""] resources ["nodes/proxy"] verbs ["get", "update"]',
    };
    const required = of(d, "permission").filter((f) => f.severity === "required");
    expect(new Set(required.map((f) => f.check))).toEqual(new Set(Object.keys(rule)));
    for (const f of required) expect(f).toMatchObject({ ok: false, verdict: "missing", hint: `grant ${rule[f.check]} (kvlog rbac prints it)` });
    for (const c of COMPONENTS.slice(1)) {
      const find = of(d, "discovery", c).find((f) => f.check === "find the targets")!;
      expect(find, c).toMatchObject({ verdict: "failed", severity: "required", ok: false });
      expect(find.message).toMatch(/User "nobody" cannot list resource "(pods|nodes)"/);
    }
    // The apiserver is found through the kubeconfig, but its other replicas cannot be listed.
    expect(of(d, "discovery", "kube-apiserver").find((f) => f.verdict === "incomplete")?.message).toMatch(/endpoints "kubernetes" is forbidden/);
    expect(d.doc.ok).toBe(false);
    expect(d.stderr).toMatch(new RegExp(`: ${d.doc.summary.problems} problem\\(s\\), \\d+ warning\\(s\\); nothing was changed`));
    expect(puts(healthy)).toEqual([]);
  });
});

describe("targets that could not change", () => {
  it("kube-proxy without profiling: not-installed; kubelet flags handler off: disabled; kube-controller-manager 1.22: too-old", async () => {
    const before = levels(broken);
    const d = await doctor(broken, []);
    expect(d.code).toBe(1);
    expect(targetOf(d, PROXY_CP)).toMatchObject({ verdict: "ready", ok: true });
    expect(targetOf(d, PROXY_W)).toMatchObject({ verdict: "not-installed", severity: "required", ok: false });
    expect(targetOf(d, PROXY_W)!.hint).toMatch(/set enableProfiling: true in the kube-proxy ConfigMap/);
    expect(targetOf(d, "kubelet/cp-1")).toMatchObject({ verdict: "ready", ok: true });
    expect(targetOf(d, "kubelet/worker-1")).toMatchObject({ verdict: "disabled", ok: false, message: "kubelet on worker-1: flags endpoint is disabled (405)", target: { node: "worker-1", via: "node-proxy" } });
    expect(targetOf(d, "kubelet/worker-1")!.hint).toMatch(/enableDebugFlagsHandler: true in the KubeletConfiguration/);
    expect(targetOf(d, "kubelet/worker-2")).toMatchObject({ ok: false, severity: "required" }); // debugging handlers off: 404
    expect(targetOf(d, "kubelet/worker-2")!.verdict).not.toMatch(/^(ready|disabled)$/);
    expect(targetOf(d, KCM)).toMatchObject({ verdict: "too-old", ok: false, severity: "required" });
    expect(targetOf(d, KCM)!.message).toMatch(/runs v1\.22\.17; PUT \/debug\/flags\/v arrived in 1\.23/);
    expect(targetOf(d, SCHED)).toMatchObject({ verdict: "ready" });
    // kube-proxy on worker-2 cannot be port-forwarded to either: its kubelet serves no /portForward/.
    expect(targetOf(d, "kube-proxy/kube-system/kube-proxy-ccccc")).toMatchObject({ verdict: "error", ok: false, severity: "required" });
    expect(targetOf(d, "kube-proxy/kube-system/kube-proxy-ccccc")!.message).toMatch(/refused the port-forward .*: 405 Debug endpoints are disabled\./);
    expect(d.doc.summary.problems).toBe(5);
    expect(d.stderr).toBe("checked as admin against Kubernetes v1.34.1: 5 problem(s); nothing was changed\n");
    expect(puts(broken)).toEqual([]);
    expect(levels(broken)).toEqual(before);
    // Named, only that component is checked: kube-proxy alone fails the same way.
    const proxy = await doctor(broken, ["kube-proxy"]);
    expect(proxy.code).toBe(1);
    expect(new Set(proxy.results.map((f) => f.component))).toEqual(new Set(["kube-proxy"]));
  });

  it("nodes that are down: one skipped warning per component that counts them, never probed, not a failure", async () => {
    const from = v136.requests.length;
    const d = await doctor(v136, ["kubelet", "kube-proxy"]);
    expect(d.code).toBe(0);
    for (const [c, ids] of [["kubelet", "worker-2, worker-3"], ["kube-proxy", "kube-system/kube-proxy-ccccc, kube-system/kube-proxy-ddddd"]]) {
      const skipped = of(d, "target", c).filter((f) => f.verdict === "skipped");
      expect(skipped, c).toHaveLength(1);
      expect(skipped[0]).toMatchObject({ check: "2 target(s) on nodes that are not ready", severity: "optional", ok: false, target: null, hint: null });
      expect(skipped[0]!.message).toBe(`${ids}: kvlog skips them (their kubelet stopped reporting); --include-not-ready or --node tries them`);
      // No row of their own: only the nodes that are up are targets.
      expect(of(d, "target", c).filter((f) => f.target).map((f) => f.target!.node)).toEqual(["cp-1", "worker-1"]);
      expect(of(d, "target", c).filter((f) => f.target).every((f) => f.verdict === "ready")).toBe(true);
    }
    expect(d.doc).toMatchObject({ ok: true, summary: { problems: 0, warnings: 2 } });
    expect(v136.requests.slice(from).filter((q) => /worker-[23]|kube-proxy-(ccccc|ddddd)/.test(`${q.target} ${q.path}`))).toEqual([]);
    const table = await run(v136, ["kubelet"]);
    expect(table.stdout.split("\n").filter((l) => /worker-[23]/.test(l))).toHaveLength(1);
    expect(table.stdout).toMatch(/^kubelet\s+2 target\(s\) on nodes that are not ready\s+skipped\s+worker-2, worker-3: kvlog skips them/m);
  });

  it("a component the cluster does not run: a none-found warning when checking all, a problem when named", async () => {
    const all = await doctor(v136, []);
    const none = of(all, "discovery", "cloud-controller-manager");
    expect(none).toHaveLength(1);
    expect(none[0]).toMatchObject({ check: "find the targets", verdict: "none-found", severity: "optional", ok: false });
    expect(none[0]!.message).toMatch(/^no cloud-controller-manager pods in namespace kube-system with labels k8s-app=cloud-controller-manager/);
    expect(of(all, "target", "cloud-controller-manager")).toEqual([]);
    expect(all.code).toBe(0);
    expect(all.doc).toMatchObject({ ok: true, summary: { problems: 0, warnings: 3 } }); // + the two skipped lines
    for (const name of ["cloud-controller-manager", "ccm"]) {
      const named = await doctor(v136, [name]);
      expect(named.code, name).toBe(1);
      expect(of(named, "discovery")).toEqual([{ ...none[0], severity: "required" }]);
      expect(named.stderr).toBe("checked as admin against Kubernetes v1.36.3: 1 problem(s); nothing was changed\n");
    }
  });
});

describe("permissions that depend on the version", () => {
  const CREATE = /^may create pods\/portforward in kube-system \(1\.35\+\)$/;
  const PORT_FORWARDED = ["kube-scheduler", "kube-controller-manager", "cloud-controller-manager", "kube-proxy"];

  it("create on pods/portforward is asked from 1.35 only", async () => {
    const old = await doctor(healthy, []);
    expect(old.results.filter((f) => CREATE.test(f.check))).toEqual([]);
    expect(old.results.filter((f) => /pods\/portforward/.test(f.check)).map((f) => f.component)).toEqual(PORT_FORWARDED);
    const now = await doctor(v136, []);
    const create = now.results.filter((f) => CREATE.test(f.check));
    expect(create.map((f) => f.component)).toEqual(PORT_FORWARDED);
    for (const f of create) expect(f).toMatchObject({ kind: "permission", severity: "required", ok: true, verdict: "ok" });
  });

  it("get but not create on pods/portforward: fine on 1.34, create missing (and the port-forwards refused) on 1.36", async () => {
    const old = await doctor(healthy, ["kube-proxy", "scheduler"], "nocreate");
    expect(old.code).toBe(0);
    expect(old.results.filter((f) => !f.ok && f.severity === "required")).toEqual([]);
    expect(old.results.filter((f) => f.component === "kube-proxy" && !f.ok)).toEqual([]);
    const d = await doctor(v136, ["kube-proxy"], "nocreate");
    expect(d.code).toBe(1);
    const perm = (re: RegExp) => of(d, "permission").find((f) => re.test(f.check))!;
    expect(perm(/^may get pods\/portforward/)).toMatchObject({ ok: true, verdict: "ok" });
    expect(perm(CREATE)).toMatchObject({ ok: false, verdict: "missing", severity: "required", hint: 'grant apiGroups [""] resources ["pods/portforward"] verbs ["get", "create"] (kvlog rbac prints it)' });
    for (const f of of(d, "target").filter((t) => t.target)) expect(f, f.target!.id).toMatchObject({ ok: false, verdict: "forbidden" });
  });

  // A kubelet is probed with a GET through the node proxy, which the apiserver authorizes as
  // `get nodes/proxy`; a change needs only `update`. Without get, the probe cannot tell, which is
  // a warning (cannot-probe), not a problem.
  it("update but not get on nodes/proxy: kubelets are not reported forbidden (set kubelet works)", async () => {
    const set = await kvlog(["set", "kubelet", "3", "--no-record"], { KUBECONFIG: v136.kubeconfig("updonly") });
    expect(set.code).toBe(0);
    expect(v136.level("kubelet/cp-1")).toBe(3);
    const d = await doctor(v136, ["kubelet"], "updonly");
    expect(of(d, "permission").find((f) => f.check.startsWith("may get nodes/proxy"))).toMatchObject({ verdict: "missing", severity: "optional" });
    expect(of(d, "target").filter((f) => f.verdict === "forbidden")).toEqual([]);
    expect(of(d, "target").filter((f) => f.target).map((f) => [f.verdict, f.severity, f.hint])).toEqual(
      of(d, "target").filter((f) => f.target).map(() => ["cannot-probe", "optional", 'grant apiGroups [""] resources ["nodes/proxy"] verbs ["get"] for the probe (kvlog rbac has it)']),
    );
    expect(d.code).toBe(0);
  });
});

describe("output", () => {
  it("-o json is one DoctorResult document with every field; the table has COMPONENT CHECK RESULT DETAIL", async () => {
    const d = await doctor(broken, ["kubelet", "kube-proxy"]);
    expect(d.stdout.trimEnd().startsWith("{")).toBe(true);
    expect(d.stdout.trimEnd().endsWith("}")).toBe(true);
    expect(Object.keys(d.doc).sort()).toEqual(["apiVersion", "kind", "ok", "results", "serverVersion", "summary", "user"]);
    expect(d.doc).toMatchObject({ apiVersion: "kvlog.dev/v1", kind: "DoctorResult", user: "admin", serverVersion: "v1.34.1", ok: false });
    expect(d.doc.summary).toEqual({ checks: d.results.length, problems: d.results.filter((f) => !f.ok && f.severity === "required").length, warnings: 0 });
    for (const f of d.results) {
      expect(Object.keys(f)).toEqual(["component", "kind", "check", "severity", "ok", "verdict", "message", "hint", "target"]);
      expect(["permission", "discovery", "target"]).toContain(f.kind);
      expect(["required", "optional"]).toContain(f.severity);
      expect(typeof f.ok).toBe("boolean");
      expect(f.hint === null || typeof f.hint === "string").toBe(true);
      if (f.target) expect(Object.keys(f.target)).toEqual(["id", "node", "via"]);
      expect(f.target === null).toBe(f.kind !== "target");
    }
    expect(targetOf(d, PROXY_W)!.target).toEqual({ id: PROXY_W, node: "worker-1", via: "port-forward" });

    const t = await run(broken, ["kubelet", "kube-proxy"]);
    expect(t.code).toBe(1);
    const lines = t.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^COMPONENT\s+CHECK\s+RESULT\s+DETAIL$/);
    expect(lines).toHaveLength(d.results.length + 1);
    expect(t.stdout).not.toContain("\x1b["); // not a terminal: no colour
    expect(t.stdout).toMatch(/^kubelet\s+worker-1\s+disabled\s+kubelet on worker-1: flags endpoint is disabled \(405\); set enableDebugFlagsHandler: true/m);
    expect(t.stdout).toMatch(/^kube-proxy\s+may list pods in kube-system\s+ok\s*$/m);
    expect(t.stdout).toMatch(/^kube-proxy\s+kube-system\/kube-proxy-bbbbb\s+not-installed\s+/m);
    expect(t.stderr).toBe("checked as admin against Kubernetes v1.34.1: 4 problem(s); nothing was changed\n");
  });
});
