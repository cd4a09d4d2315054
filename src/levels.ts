// levels: the level a component started with, and where that is written. Upstream has no way to
// read the live level (kubernetes-facts.md): /flagz, the kubelet's /configz and the pod's command
// line show the startup level; what kvlog changed since is in the record (record.ts).

import type { Access } from "./access.js";
import { statusMessage, untilAborted, withDeadline, type HttpAnswer } from "./http.js";
import type { Pod } from "./objects.js";
import type { Reachable, Startup } from "./target.js";
import { openChannel, type Channel } from "./transport.js";

/** Both structured /flagz versions (v1beta1 from 1.36, v1alpha1 in 1.35): the component picks one. */
const FLAGZ_ACCEPT = "application/json;as=Flagz;v=v1beta1;g=config.k8s.io, application/json;as=Flagz;v=v1alpha1;g=config.k8s.io";

/** The value of the last -v/--v flag on a command line (as Go's flag package takes the last one). */
export function verbosityFlag(args: string[]): number | undefined {
  let value: string | undefined;
  args.forEach((a, i) => {
    const m = /^--?v=(.*)$/.exec(a);
    if (m) value = m[1];
    else if ((a === "-v" || a === "--v") && i + 1 < args.length) value = args[i + 1];
  });
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * The startup level written in a pod's command line. The control-plane components take their
 * verbosity only from flags, so a command without -v runs at klog's default, 0. kube-proxy may
 * set it in its configuration file instead: without a flag, its pod says nothing.
 */
export function podStartup(p: Pod, component: string): Startup | undefined {
  const c = p.spec?.containers?.[0];
  if (!c) return undefined;
  const v = verbosityFlag([...(c.command ?? []), ...(c.args ?? [])]);
  if (v !== undefined) return { level: v, source: "pod command line (--v)" };
  if (component === "kube-proxy" || component === "kubelet") return undefined;
  return { level: 0, source: "pod command line (no --v: klog's default)" };
}

/** What identifies one run of a pod's process: a restart changes it. */
export function podIncarnation(p: Pod): string | undefined {
  const s = p.status?.containerStatuses?.[0];
  if (!p.metadata.uid) return undefined;
  return `${p.metadata.uid}/${s?.restartCount ?? 0}/${s?.state?.running?.startedAt ?? ""}`;
}

/**
 * The startup level of a target: from its pod's command line when discovery found it there,
 * else asked of the process itself (the kubelet's /configz, then /flagz), through the same way
 * kvlog reaches it for a change. Never a guess: unknown says why.
 */
export async function probeStartup(target: Reachable, access: Access | undefined, timeoutMs: number, open: typeof openChannel = openChannel, signal?: AbortSignal): Promise<Startup> {
  if (target.startup) return target.startup;
  let channel: Channel | undefined;
  try {
    channel = open(target, access, timeoutMs, signal);
    const ch = channel;
    // `signal` (--timeout passed) cuts a read in flight short: the level is then unknown, with the reason.
    const get = (path: string, accept: string): Promise<HttpAnswer> =>
      untilAborted(withDeadline(ch.send({ method: "GET", path, timeoutMs, headers: { accept }, signal }), timeoutMs + 1000, `no answer within ${timeoutMs + 1000} ms`), signal);
    const why: string[] = [];
    if (target.component === "kubelet") {
      const ans = await get("/configz", "application/json");
      const v = ans.status === 200 ? jsonPath(ans.body, ["kubeletconfig", "logging", "verbosity"]) : undefined;
      if (typeof v === "number") return { level: v, source: "kubelet /configz (logging.verbosity)" };
      why.push(`/configz ${refusal(ans, false)}`);
    }
    const ans = await get("/flagz", FLAGZ_ACCEPT);
    const v = ans.status === 200 ? jsonPath(ans.body, ["flags", "v"]) : undefined;
    if (typeof v === "string" && /^\d+$/.test(v)) return { level: Number(v), source: "/flagz (--v)" };
    why.push(`/flagz ${refusal(ans, true)}`);
    return { level: null, source: `unknown: ${why.join("; ")}` };
  } catch (e) {
    return { level: null, source: `unknown: ${(e as Error).message}` };
  } finally {
    await channel?.close().catch(() => {});
  }
}

function refusal(ans: HttpAnswer, flagz: boolean): string {
  if (ans.status === 200) return "answered without a level";
  if (ans.status === 404) return flagz ? "not served (404; /flagz is on by default from Kubernetes 1.36)" : "not served (404)";
  if (ans.status === 403) return `forbidden (403): ${statusMessage(ans.body) ?? ""}`.trim();
  return `answered ${ans.status}`;
}

function jsonPath(body: string, path: string[]): unknown {
  try {
    let v: unknown = JSON.parse(body);
    for (const k of path) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
    return v;
  } catch {
    return undefined;
  }
}
