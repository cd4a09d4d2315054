// kvlog doctor, the run: permissions, discovery and a read-only probe per target; changes nothing.
// src/commands/doctor.ts has the flags and validation. src/cli.ts imports this module only when the
// command runs, so that --help and usage errors load none of the network code.

import { classifyAnswer, classifyError } from "../outcomes.js";
import { parseVersion, type Component } from "../components.js";
import { NothingMatchedError } from "../errors.js";
import { FLAGS_PATH, reasonText, untilAborted, withDeadline, type HttpAnswer } from "../http.js";
import type { AccessQuestion } from "../objects.js";
import type { Target } from "../target.js";
import { RECORD_NAMESPACE, recordName } from "../record.js";
import { JSON_API_VERSION, jsonParts, table } from "../report.js";
import type { Io } from "../io.js";
import { Session } from "../session.js";
import { escapeTerminal } from "../terminal.js";
import { openChannel, type Channel } from "../transport.js";
import type { DoctorRequest } from "../commands/doctor.js";

/** One verdict: a permission, discovery, or one target. The JSON `results[]` of `kvlog doctor -o json`. */
export interface Finding {
  component: string;
  kind: "permission" | "discovery" | "target";
  check: string;
  /** required: without it the level cannot change; optional: a warning (the record, the startup level). */
  severity: "required" | "optional";
  ok: boolean;
  /** ok, missing (a permission), ready (a target serves the endpoint), skipped, or the outcome kvlog would report. */
  verdict: string;
  message: string;
  hint: string | null;
  target: { id: string; node: string | null; via: Target["via"] } | null;
}

interface Need {
  what: string;
  q: AccessQuestion;
  severity: Finding["severity"];
  grant: string;
}

/** What kvlog needs of the apiserver for a component, from the catalog and the server's version. */
export function needs(c: Component, version: string | undefined): Need[] {
  const out: Need[] = [];
  const ns = c.namespace ?? "kube-system";
  const put: Need = { what: `put ${FLAGS_PATH}`, q: { verb: "put", path: FLAGS_PATH }, severity: "required", grant: `nonResourceURLs ["${FLAGS_PATH}"] verbs ["put"]` };
  const nodes: Need = { what: "list nodes", q: { verb: "list", resource: "nodes" }, severity: "required", grant: `apiGroups [""] resources ["nodes"] verbs ["get", "list"]` };
  const pods: Need = { what: `list pods in ${ns}`, q: { verb: "list", resource: "pods", namespace: ns }, severity: "required", grant: `apiGroups [""] resources ["pods"] verbs ["get", "list"]` };
  const v = parseVersion(version);
  const wsCreate = !v || v[0] > 1 || v[1] >= 35; // WebSocket port-forwards also need create from 1.35 on
  const forward: Need[] = [
    { what: `get pods/portforward in ${ns}`, q: { verb: "get", resource: "pods", subresource: "portforward", namespace: ns }, severity: "required", grant: `apiGroups [""] resources ["pods/portforward"] verbs ["get", "create"]` },
    ...(wsCreate
      ? [{ what: `create pods/portforward in ${ns} (1.35+)`, q: { verb: "create", resource: "pods", subresource: "portforward", namespace: ns }, severity: "required" as const, grant: `apiGroups [""] resources ["pods/portforward"] verbs ["get", "create"]` }]
      : []),
  ];
  const logs = (where: string): Need => ({ what: `get pods/log in ${where} (kvlog capture)`, q: { verb: "get", resource: "pods", subresource: "log", namespace: where }, severity: "optional", grant: `apiGroups [""] resources ["pods/log"] verbs ["get"] (kvlog rbac --capture)` });
  const flagz: Need = { what: "get /flagz (the startup level: get, reset, set --for)", q: { verb: "get", path: "/flagz" }, severity: "optional", grant: `nonResourceURLs ["/flagz"] verbs ["get"]` };
  switch (c.discovery) {
    case "apiserver":
      out.push(put, { what: "get endpoints default/kubernetes (every replica)", q: { verb: "get", resource: "endpoints", namespace: "default", name: "kubernetes" }, severity: "required", grant: `apiGroups [""] resources ["endpoints"] resourceNames ["kubernetes"] verbs ["get"]` }, flagz, logs("kube-system"));
      break;
    case "pod":
      out.push(pods, nodes, ...forward, put, logs(ns));
      break;
    case "node":
      out.push(nodes, { what: "update nodes/proxy", q: { verb: "update", resource: "nodes", subresource: "proxy" }, severity: "required", grant: `apiGroups [""] resources ["nodes/proxy"] verbs ["get", "update"]` });
      out.push({ what: "get nodes/proxy (the startup level: get, reset, set --for; the kubelet's log: capture)", q: { verb: "get", resource: "nodes", subresource: "proxy" }, severity: "optional", grant: `apiGroups [""] resources ["nodes/proxy"] verbs ["get", "update"]` });
      break;
    case "node-pod":
      out.push(pods, nodes, ...forward, logs(ns));
      break;
  }
  const name = recordName(c.name);
  for (const verb of ["get", "update"]) {
    out.push({
      what: `${verb} configmap ${RECORD_NAMESPACE}/${name} (the record)`,
      q: { verb, resource: "configmaps", namespace: RECORD_NAMESPACE, name },
      severity: "optional",
      grant: `apiGroups [""] resources ["configmaps"] resourceNames ["${name}"] verbs ["get", "update"] in namespace ${RECORD_NAMESPACE}`,
    });
  }
  return out;
}

export async function runDoctor(req: DoctorRequest, io: Io): Promise<number> {
  return Session.with(req, io, async (session) => {
    await session.open(undefined, true);
    const api = session.api!;
    const [who, version] = await Promise.all([api.whoami().catch(() => "an identity the apiserver does not name"), api.serverVersion().catch(() => undefined)]);
    const findings: Finding[] = [];
    for (const c of req.components) {
      const answers = await Promise.all(needs(c, version).map(async (n) => ({ n, a: await api.canI(n.q) })));
      for (const { n, a } of answers) {
        findings.push({
          component: c.name,
          kind: "permission",
          check: `may ${n.what}`,
          severity: n.severity,
          ok: a.allowed,
          verdict: a.allowed ? "ok" : "missing",
          message: a.allowed ? "" : `not allowed${a.reason ? ` (${a.reason})` : ""}`,
          hint: a.allowed ? null : `grant ${n.grant} (kvlog rbac prints it)`,
          target: null,
        });
      }
      const sel = { component: c, nodes: [], pods: [], direct: false, sendTokenToNodes: false, includeNotReady: false };
      const { results, warnings, discoveryError } = await session.onTargets(sel, "checking", (t) => probe(session, req, t), async (t) => found(t, session.notAttempted(t)));
      for (const w of warnings) findings.push({ component: c.name, kind: "discovery", check: "find every replica", severity: "required", ok: false, verdict: "incomplete", message: w, hint: null, target: null });
      if (discoveryError !== undefined) {
        const e = discoveryError as Error;
        const none = e instanceof NothingMatchedError;
        // Checking every component, one a cluster does not run (no cloud-controller-manager, a
        // managed control plane) is a note; a component named on the command line must be there.
        const severity = none && !req.named ? "optional" : "required";
        findings.push({ component: c.name, kind: "discovery", check: "find the targets", severity, ok: false, verdict: none ? "none-found" : "failed", message: session.redact(e.message), hint: null, target: null });
      } else {
        const down = results.filter((f) => f.verdict === "skipped").length;
        findings.push({ component: c.name, kind: "discovery", check: "find the targets", severity: "required", ok: true, verdict: "ok", message: `${results.length} target(s)${down ? `, ${down} of them on nodes that are not ready` : ""}`, hint: null, target: null });
      }
      // Targets left out on purpose (nodes that are down) are one line, not one a node.
      const skipped = results.filter((f) => f.verdict === "skipped");
      findings.push(...results.filter((f) => f.verdict !== "skipped"));
      if (skipped.length > 0) {
        const ids = skipped.map((f) => f.target!.id.slice(c.name.length + 1));
        findings.push({
          component: c.name,
          kind: "target",
          check: `${skipped.length} target(s) on nodes that are not ready`,
          severity: "optional",
          ok: false,
          verdict: "skipped",
          message: `${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ", …" : ""}: kvlog skips them (their kubelet stopped reporting); --include-not-ready or --node tries them`,
          hint: null,
          target: null,
        });
      }
    }

    const problems = findings.filter((f) => !f.ok && f.severity === "required");
    const warned = findings.filter((f) => !f.ok && f.severity === "optional");
    const doc = {
      apiVersion: JSON_API_VERSION,
      kind: "DoctorResult",
      user: session.redact(who),
      serverVersion: version ?? null,
      ok: problems.length === 0,
      summary: { checks: findings.length, problems: problems.length, warnings: warned.length },
      results: findings.map((f) => ({ ...f, message: session.redact(f.message), hint: f.hint && session.redact(f.hint) })),
    };
    if (req.output === "json") for (const part of jsonParts(doc)) io.stdout.write(part);
    else {
      const rows = doc.results.map((f) => [f.component, f.target ? f.target.id.slice(f.component.length + 1) : f.check, f.verdict, [f.message, f.hint].filter(Boolean).join("; ")]);
      io.stdout.write(
        table(["COMPONENT", "CHECK", "RESULT", "DETAIL"], rows, session.colorOn(io.stdout), (s, k, i, c) => {
          const f = doc.results[k]!;
          if (i !== 2) return s;
          return f.ok ? c.green(s) : f.severity === "optional" ? c.yellow(s) : c.red(s);
        }),
      );
    }
    io.stderr.write(
      `checked as ${escapeTerminal(doc.user)}${version ? ` against Kubernetes ${escapeTerminal(version)}` : ""}: ${problems.length === 0 ? "kvlog can change every target found" : `${problems.length} problem(s)`}${warned.length ? `, ${warned.length} warning(s)` : ""}; nothing was changed\n`,
    );
    return problems.length === 0 ? 0 : 1;
  });
}

function found(t: Target, target: Target, extra: Partial<Finding> = {}): Finding {
  return {
    component: t.component,
    kind: "target",
    check: "serves PUT /debug/flags/v",
    severity: "required",
    ok: false,
    verdict: target.unavailable?.outcome ?? "error",
    message: target.unavailable?.message ?? "",
    hint: target.unavailable?.hint ?? null,
    target: { id: t.id, node: t.node ?? null, via: t.via },
    ...extra,
  };
}

/** GET /debug/flags/v through the way kvlog would PUT: 406 means the endpoint is there; nothing changes. */
async function probe(session: Session, req: DoctorRequest, t: Target): Promise<Finding> {
  if (t.unavailable) return found(t, t, t.unavailable.skipped ? { verdict: "skipped", severity: "optional" } : {});
  let channel: Channel | undefined;
  try {
    const cancel = session.deadline; // --timeout passed: the probe in flight is cut short
    channel = openChannel(t, session.access, req.timeoutMs, cancel);
    const ch = channel;
    const sending = ch.send({ method: "GET", path: FLAGS_PATH, timeoutMs: req.timeoutMs, signal: cancel });
    const ans: HttpAnswer = await untilAborted(withDeadline(sending, req.timeoutMs + 1000, `no answer within ${req.timeoutMs + 1000} ms`), cancel);
    if (ans.status === 406 && /unsupported http method/.test(ans.body)) {
      return found(t, t, { ok: true, verdict: "ready", message: `serves ${FLAGS_PATH} (a GET answered 406, as upstream does)` });
    }
    if (ans.status === 403) {
      // The probe is a GET: it needs get where a change needs put/update (the permissions above
      // say whether the change itself is allowed).
      const rule = t.via === "node-proxy" ? `apiGroups [""] resources ["nodes/proxy"] verbs ["get"]` : `nonResourceURLs ["${FLAGS_PATH}"] verbs ["get"]`;
      return found(t, t, {
        severity: "optional",
        verdict: "cannot-probe",
        message: `the GET probe was forbidden (403), so doctor cannot tell whether ${FLAGS_PATH} is served`,
        hint: `grant ${rule} for the probe (kvlog rbac has it)`,
      });
    }
    const c = classifyAnswer(t, 0, ans);
    return found(t, t, { verdict: c.outcome, message: c.message, hint: c.hint ?? null });
  } catch (e) {
    if (session.deadline?.aborted) return found(t, t, { verdict: "interrupted", message: `${reasonText(session.deadline)} before the probe had its answer` });
    const c = classifyError(t, e, req.timeoutMs);
    return found(t, t, { verdict: c.outcome, message: c.message, hint: c.hint ?? null });
  } finally {
    await channel?.close().catch(() => {});
  }
}
