// outcomes: the catalogue of what can happen to a target. Every answer (classifyAnswer) and
// every failure to get one (classifyError) becomes one Outcome with a message and the next step,
// and Result is the view model of one target that the table and the JSON render. Pure: tested
// with plain answers and errors.

import { COMPONENTS, tooOld, type Component, type ComponentName } from "./components.js";
import { CLOSED_BEFORE_ANSWER, errorCode, FLAGS_PATH, isTimeout, networkReason, statusMessage, type HttpAnswer } from "./http.js";
import { TunnelError, TunnelRefusedError } from "./portforward.js";
import type { Target, Via } from "./target.js";

export type Outcome =
  | "set"
  | "dry-run"
  | "unauthorized"
  | "forbidden"
  | "not-installed"
  | "too-old"
  | "disabled"
  | "unexpected-answer"
  | "rejected"
  | "connection-refused"
  | "connection-reset"
  | "timeout"
  | "tls-error"
  | "unreachable"
  | "pod-not-running"
  | "node-not-ready"
  | "untrusted"
  | "missing"
  | "interrupted"
  | "unknown-startup"
  | "superseded"
  | "error";

/** One result per target: the view model that both the table and the JSON render. */
export interface Result {
  id: string;
  component: ComponentName;
  node: string | null;
  namespace: string | null;
  pod: string | null;
  via: Via;
  endpoint: string;
  level: number;
  ok: boolean;
  /** Left out on purpose (a node whose kubelet is down): not counted as a failure. */
  skipped: boolean;
  outcome: Outcome;
  httpStatus: number | null;
  /** HTTP attempts made: more than 1 after a 429 (Retry-After) or a credential renewal; 0 when nothing was sent. */
  attempts: number;
  message: string;
  hint: string | null;
  durationMs: number;
  errorCode: string | null;
  request: { method: "PUT"; url: string; body: string; auth: string };
  /** The level before this change, when known (the override kvlog recorded, else the startup level). */
  before: number | null;
  /** With --for: how the level was put back (null otherwise, or when it was not changed). */
  restore: Restore | null;
}

/** Putting a level back after `set --for`. */
export interface Restore {
  level: number | null;
  ok: boolean;
  outcome: Outcome;
  httpStatus: number | null;
  message: string;
  hint: string | null;
  at: string | null;
}

export interface Classified {
  outcome: Outcome;
  ok: boolean;
  message: string;
  hint?: string | undefined;
}

const catalog = (name: ComponentName): Component => COMPONENTS.find((c) => c.name === name)!;

/** Said of a PUT that was sent whole but not answered before --timeout passed (report.ts counts these). */
export const MAY_HAVE_BEEN_APPLIED = "the change may have been applied";

/** A PUT cut short by the run's deadline: sent (the component may have acted on it) or not yet. */
export function cutShortInFlight(why: string, sent: boolean): Classified {
  return sent
    ? {
        outcome: "interrupted",
        ok: false,
        message: `${why} while kvlog waited for the answer: the PUT was sent, so ${MAY_HAVE_BEEN_APPLIED}`,
        hint: "run the same command again to be sure (the same level sent twice does the same)",
      }
    : { outcome: "interrupted", ok: false, message: `${why} before the PUT was sent (its level is unchanged)` };
}

/**
 * Changed, or may have been: set, or a PUT sent whole that --timeout cut short before its answer.
 * Such a target is recorded and, with `set --for`, put back like one that was set.
 */
export function mayHaveChanged(r: Result): boolean {
  return r.ok || (r.outcome === "interrupted" && r.message.includes(MAY_HAVE_BEEN_APPLIED));
}

const SUCCESS = /^successfully set klog\.logging\.verbosity to (\S+)/;

/** Classifies an HTTP answer from a target. Pure: tested with plain answers. */
export function classifyAnswer(target: Target, level: number, ans: HttpAnswer): Classified {
  const c = catalog(target.component);
  const text = statusMessage(ans.body) ?? "";
  const where = describeWhere(target);
  switch (ans.status) {
    case 200: {
      const m = SUCCESS.exec(ans.body.trim());
      if (m && m[1] === String(level)) return { outcome: "set", ok: true, message: `level set to ${level}` };
      if (m) return { outcome: "unexpected-answer", ok: false, message: `the component says it set level ${m[1]}, not ${level}` };
      const html = /<html|<a href/i.test(ans.body) || ans.contentType.includes("text/html");
      return {
        outcome: "unexpected-answer",
        ok: false,
        message: html
          ? `${where} answered 200 with the /debug/flags index page, not the success text: the path is wrong or the component is too old`
          : `${where} answered 200 without the success text: ${short(ans.body) || "(empty body)"}`,
        hint: "kvlog only counts `successfully set klog.logging.verbosity to N` as success; check --endpoint or the component version",
      };
    }
    case 400:
      return { outcome: "rejected", ok: false, message: `${where} rejected level ${level}: ${short(ans.body)}` };
    case 401:
      return {
        outcome: "unauthorized",
        ok: false,
        message: `${where} did not accept the credentials (401 ${text || "Unauthorized"})`,
        hint:
          target.via === "port-forward"
            ? `${c.name} checks tokens with TokenReview and client certificates against the cluster client CA: use a token (--token, --service-account) or a kubeconfig client certificate it trusts; check its --authentication-kubeconfig`
            : target.nodeReported && !target.tokenToNodes
              ? "kvlog sends no bearer token to an address a node reports about itself (a compromised node could replay it): drop --direct, or use --service-account NS/NAME (a short-lived token minted for the run), or pass --send-token-to-nodes"
              : "check the kubeconfig user, or pass --token/--token-file/--service-account",
      };
    case 403:
      return forbidden(target, text);
    case 404: {
      if (target.via === "node-proxy" && ans.contentType.includes("json")) {
        return { outcome: "missing", ok: false, message: `the apiserver says: ${text}` };
      }
      if (tooOld(c, target.version)) {
        return {
          outcome: "too-old",
          ok: false,
          message: `${where} runs ${target.version}; PUT ${FLAGS_PATH} arrived in ${c.since.join(".")}`,
          hint: `upgrade ${c.name} to ${c.since.join(".")} or newer`,
        };
      }
      return {
        outcome: "not-installed",
        ok: false,
        message: `${where} does not serve ${FLAGS_PATH} (404): the debug handler is off`,
        hint: `to turn it on, ${c.gate}`,
      };
    }
    case 405:
      if (target.component === "kubelet" && /flags endpoint is disabled/.test(ans.body)) {
        return {
          outcome: "disabled",
          ok: false,
          message: `${where}: flags endpoint is disabled (405)`,
          hint: "set enableDebugFlagsHandler: true in the KubeletConfiguration (or --enable-debug-flags-handler), then restart the kubelet",
        };
      }
      break;
    case 406:
      return { outcome: "unexpected-answer", ok: false, message: `${where} refused the method (406 ${short(ans.body)})` };
    case 502:
    case 503:
      if (target.via === "node-proxy") {
        return {
          outcome: "unreachable",
          ok: false,
          message: `the apiserver could not reach the kubelet on ${target.node} (${ans.status} ${text})`,
          hint: "check the node is Ready and its kubelet port is reachable from the control plane",
        };
      }
      break;
  }
  return { outcome: "error", ok: false, message: `${where} answered ${ans.status}: ${short(text || ans.body)}` };
}

function forbidden(target: Target, text: string): Classified {
  const c = catalog(target.component);
  const where = describeWhere(target);
  const why =
    c.name === "kubelet"
      ? " (nodes/proxy also reaches the kubelet's exec and run paths: grant it with care)"
      : c.name === "kube-apiserver"
        ? ""
        : ` (${c.name} asks the apiserver with SubjectAccessReview)`;
  return { outcome: "forbidden", ok: false, message: `${where}: forbidden (403): ${text}`, hint: `grant ${c.rbac}${why}` };
}

/** Classifies a failure to get any answer (network, TLS, tunnel). Pure. */
export function classifyError(target: Target, e: unknown, timeoutMs: number): Classified {
  const c = classifyFailure(target, e, timeoutMs);
  if (target.replica && ["connection-refused", "timeout", "unreachable"].includes(c.outcome)) {
    return {
      ...c,
      hint: "a kube-apiserver replica listed in default/kubernetes is not reachable from here (managed control planes keep replica addresses private): run kvlog where every replica is reachable, e.g. inside the cluster",
    };
  }
  return c;
}

function classifyFailure(target: Target, e: unknown, timeoutMs: number): Classified {
  const where = describeWhere(target);
  if (e instanceof TunnelRefusedError) {
    if (e.status === 403) {
      return {
        outcome: "forbidden",
        ok: false,
        message: `port-forward to ${target.namespace}/${target.pod} forbidden (403): ${e.message}`,
        hint: `grant apiGroups [""] resources ["pods/portforward"] verbs ["get", "create"] in namespace ${target.namespace}`,
      };
    }
    if (e.status === 401) {
      return { outcome: "unauthorized", ok: false, message: `the apiserver did not accept the credentials for port-forward (401 ${e.message})`, hint: "check the kubeconfig user, or pass --token/--token-file/--service-account" };
    }
    if (e.status === 404) {
      return { outcome: "missing", ok: false, message: `pod ${target.namespace}/${target.pod} is gone (404 ${e.message})` };
    }
    return { outcome: "error", ok: false, message: `the apiserver refused the port-forward to ${target.namespace}/${target.pod}: ${e.status} ${e.message}` };
  }
  if (e instanceof TunnelError) {
    const refused = /connection refused/i.test(e.message);
    return {
      outcome: refused ? "connection-refused" : "error",
      ok: false,
      message: `port-forward to ${target.namespace}/${target.pod}:${target.port} failed: ${e.message}`,
      hint: refused ? `nothing listens on port ${target.port} in the pod: check ${target.component}'s --secure-port/--bind-address (or metricsBindAddress for kube-proxy)` : undefined,
    };
  }
  const code = errorCode(e);
  const err = e as { message?: string };
  if (isTimeout(e)) {
    return { outcome: "timeout", ok: false, message: `${where} did not answer within ${timeoutMs} ms`, hint: "raise --request-timeout, or check the network path" };
  }
  if (code === "ECONNREFUSED") {
    return { outcome: "connection-refused", ok: false, message: `${where}: connection refused`, hint: "check the address and port, and that the component is running" };
  }
  if (code && CLOSED_BEFORE_ANSWER.has(code)) {
    return { outcome: "connection-reset", ok: false, message: `${where}: the connection was closed before an answer (${code})` };
  }
  if (code && (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/.test(code))) {
    return {
      outcome: "tls-error",
      ok: false,
      message: `${where}: TLS verification failed (${code}: ${short(err.message ?? "")})`,
      hint:
        target.via === "port-forward"
          ? `the TLS handshake with ${target.component} inside the tunnel failed: check that port ${target.port} serves HTTPS`
          : target.component === "kubelet" && target.via === "direct"
            ? "kubelet serving certificates are often self-signed: drop --direct to go through the apiserver's node proxy"
            : "check the kubeconfig's certificate-authority, or pass --insecure-skip-tls-verify if you accept the risk",
    };
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EHOSTUNREACH" || code === "ENETUNREACH") {
    return { outcome: "unreachable", ok: false, message: `${where}: ${networkReason(e)}` };
  }
  return { outcome: "error", ok: false, message: `${where}: ${networkReason(e)}` };
}

function describeWhere(t: Target): string {
  if (t.pod) return `${t.component} ${t.namespace}/${t.pod}`;
  if (t.node) return `${t.component} on ${t.node}`;
  return t.url ? `${t.component} at ${new URL(t.url).host}` : t.component;
}

function short(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > 200 ? `${one.slice(0, 200)}…` : one;
}
