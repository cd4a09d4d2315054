// api: the apiserver client. apiRequest is the one way to call the apiserver (fresh
// credentials, renewed once on 401, 429 waited out: retry.ts), and kubeApi implements the narrow
// interfaces of objects.ts: lists paged through and reduced item by item, errors turned into one
// line that names the RBAC rule or the next step.

import type { Access } from "./access.js";
import { readAccess, type AccessOptions } from "./credentials.js";
import { newDispatcher, request } from "./dispatch.js";
import { ConfigError, RunError } from "./errors.js";
import { errorCode, failedBeforeAnswer, GOAWAY, joinUrl, networkReason, sleep, statusMessage, statusOf, type HttpAnswer, type SendOptions } from "./http.js";
import { ListFormatError, readList, type ListPage } from "./lists.js";
import { NODE_FIELDS_UNUSED, POD_FIELDS_UNUSED, reduceNode, reducePod, type ConfigMap, type DoctorApi, type KubeApi, type Node, type Pod, type RecordApi } from "./objects.js";
import { backoff, MAX_THROTTLE_RETRIES, renewingThrottled } from "./retry.js";

/**
 * One object as the apiserver sends it back, read whole: a record ConfigMap holds up to 1 MiB of
 * data (~10,000 targets) written as JSON strings inside JSON, so escaped; a node labelled by
 * node-feature-discovery, or with hundreds of volumes attached, is well over 64 KiB. etcd stores
 * at most 1.5 MiB an object. Any other answer (components, errors) stays at MAX_ANSWER.
 */
const OBJECT_ANSWER_MAX = 4 * 1024 * 1024;

/**
 * One request to the apiserver, the way client-go makes it: credentials renewed when due and
 * once when refused (401), and a 429 from API Priority and Fairness waited out (Retry-After,
 * at most MAX_THROTTLE_RETRIES times) instead of failing. The whole call, retries included,
 * stays within `opts.timeoutMs`.
 */
export async function apiRequest(access: Access, path: string, opts: SendOptions, headers: Record<string, string> = {}, signal = opts.signal): Promise<HttpAnswer> {
  const url = joinUrl(access.server, path);
  const deadline = Date.now() + opts.timeoutMs;
  const { value, attempts } = await renewingThrottled(
    access,
    deadline,
    signal,
    (creds) => request(access.dispatcher, url, { ...creds.headers, ...headers }, { ...opts, timeoutMs: Math.max(1, deadline - Date.now()) }),
    (ans) => ans,
  );
  return { ...value, attempts };
}

/** The list's continue token expired (410): the list must start again. */
class ExpiredListError extends Error {}

export interface KubeApiOptions {
  timeoutMs: number;
  /** Items a list page asks for (kubectl's --chunk-size, default 500); 0 lists in one answer. */
  chunkSize: number;
  /** Cuts every call short once aborted (--timeout passed, for discovery). */
  signal?: AbortSignal | undefined;
}

/** How often a paged list starts again after its continue token expired (410 Gone). */
const MAX_LIST_RESTARTS = 3;

export function kubeApi(access: Access, o: KubeApiOptions): KubeApi & RecordApi & DoctorApi {
  const notApiserver = (what: string, ans: { status: number; contentType: string }, why: string, cause?: unknown): RunError =>
    new RunError(
      `cannot ${what}: the apiserver answered ${ans.status} with something that is not ${why} (${ans.contentType || "no content type"}); is ${access.server.origin} an apiserver?`,
      { cause },
    );
  /**
   * One API call. Every call kvlog makes is safe to repeat (reads, reviews, a token, a write
   * guarded by resourceVersion), so a connection that fails before an answer (an apiserver
   * restarting behind its load balancer) and a 503 are tried again with retry.ts's backoff, within
   * the call's --request-timeout; 429 is apiRequest's (Retry-After).
   */
  const call = async (method: string, path: string, what: string, body: unknown, readOk?: SendOptions["readOk"], maxBytes?: number): Promise<HttpAnswer> => {
    const deadline = Date.now() + o.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const left = Math.max(1, deadline - Date.now());
      try {
        const ans = await apiRequest(
          access,
          path,
          { method, path, body: body ? JSON.stringify(body) : undefined, timeoutMs: left, readOk, maxBytes, signal: o.signal },
          { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
        );
        const wait = ans.status === 503 && !o.signal?.aborted ? backoff(attempt, ans.retryAfter, left) : undefined;
        if (wait === undefined) return ans;
        await sleep(wait, o.signal);
      } catch (e) {
        if (e instanceof ListFormatError) throw notApiserver(what, { status: 200, contentType: "" }, `a whole JSON list (${e.message})`, e);
        if (o.signal?.aborted) throw new RunError(`stopped before the apiserver answered (to ${what}): ${(o.signal.reason as Error).message ?? String(o.signal.reason)}`, { cause: e });
        const wait = failedBeforeAnswer(e) ? backoff(attempt, undefined, left) : undefined;
        if (wait !== undefined) {
          await sleep(errorCode(e) === GOAWAY ? 0 : wait, o.signal); // GOAWAY: the server asks for a new connection, now
          continue;
        }
        throw new RunError(`cannot reach the apiserver at ${access.server.origin} to ${what}: ${networkReason(e)} (${access.source})`, { cause: e });
      }
    }
  };
  /**
   * The answer's value (a parsed object, or what `readOk` made of a list), undefined for 404;
   * errors thrown. `conflict`: returned for a 409. `maxBytes`: read more than MAX_ANSWER.
   */
  const json = async <T>(
    method: string,
    path: string,
    what: string,
    rule: string,
    body?: unknown,
    { readOk, conflict, maxBytes }: { readOk?: SendOptions["readOk"]; conflict?: T; maxBytes?: number } = {},
  ): Promise<T | undefined> => {
    const ans = await call(method, path, what, body, readOk, maxBytes);
    const list = readOk !== undefined;
    if (ans.status === 404) return undefined;
    if (ans.status === 409 && conflict !== undefined) return conflict;
    if (ans.status < 200 || ans.status > 299) {
      const msg = statusMessage(ans.body) ?? `HTTP ${ans.status}`;
      if (ans.status === 410 && list && statusOf(ans.body)?.reason === "Expired") throw new ExpiredListError(msg);
      if (ans.status === 401) {
        throw new RunError(`the apiserver did not accept the credentials (401 ${msg}) to ${what}; check the ${access.source} or the token flags`);
      }
      if (ans.status === 403) {
        throw new RunError(`forbidden to ${what}: ${msg}. Grant: ${rule} (see the README's RBAC section)`);
      }
      if (ans.status === 429) throw new RunError(`cannot ${what}: the apiserver is overloaded (429 ${msg}) and still was after ${MAX_THROTTLE_RETRIES} retries; try again later`);
      if (ans.status === 400) throw new ConfigError(`cannot ${what}: HTTP 400 ${msg}; check the -l/--selector syntax`);
      throw new RunError(`cannot ${what}: HTTP ${ans.status} ${msg}`);
    }
    if (list) return ans.value as T;
    try {
      return JSON.parse(ans.body) as T;
    } catch (e) {
      throw notApiserver(what, ans, "JSON", e);
    }
  };

  /**
   * Reads a whole list page by page (limit/continue, as kubectl does), each page streamed item
   * by item and each item reduced at once to what `reduce` keeps, so memory holds one item of
   * the answer at a time. A continue token that expired (410, after an etcd compaction) starts
   * the list again.
   */
  const listAll = async <T, R>(
    path: string,
    params: Record<string, string | undefined>,
    what: string,
    rule: string,
    reduce: (item: T) => R,
    prune: string[],
    onPage?: (items: R[]) => void,
  ): Promise<R[]> => {
    for (let restart = 0; ; restart++) {
      const out: R[] = [];
      let cont: string | undefined;
      try {
        do {
          const q = new URLSearchParams();
          for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
          if (o.chunkSize > 0) q.set("limit", String(o.chunkSize));
          if (cont) q.set("continue", cont);
          const qs = q.toString();
          const page = await json<ListPage<R>>("GET", qs ? `${path}?${qs}` : path, what, rule, undefined, { readOk: (body) => readList(body, (item) => reduce(item as T), { prune }) });
          if (!page) break; // 404: no such list here, nothing to act on
          for (const item of page.items) out.push(item);
          onPage?.(page.items);
          cont = page.meta.metadata?.continue || undefined;
        } while (cont);
        return out;
      } catch (e) {
        if (!(e instanceof ExpiredListError)) throw e;
        if (restart + 1 >= MAX_LIST_RESTARTS) {
          throw new RunError(`cannot ${what}: the list kept changing faster than kvlog could page through it (410 ${e.message}); try again, or pass a larger --chunk-size`);
        }
      }
    }
  };

  return {
    async listPods(namespace, sel) {
      const what = `list pods in namespace ${namespace}`;
      const rule = `apiGroups [""] resources ["pods"] verbs ["list"] in namespace ${namespace}`;
      return listAll(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, { labelSelector: sel.labelSelector, fieldSelector: sel.fieldSelector }, what, rule, reducePod, POD_FIELDS_UNUSED);
    },
    async listNodes(labelSelector, onPage) {
      return listAll("/api/v1/nodes", { labelSelector }, "list nodes", `apiGroups [""] resources ["nodes"] verbs ["list"]`, reduceNode, NODE_FIELDS_UNUSED, onPage);
    },
    async apiserverReplicas() {
      const ans = await call("GET", "/api/v1/namespaces/default/endpoints/kubernetes", "get the endpoints default/kubernetes", undefined);
      // Refused or absent: the PUT to the cluster URL still shows what the credentials may do.
      if ([401, 403, 404].includes(ans.status)) return { refused: `${ans.status} ${statusMessage(ans.body) ?? ""}`.trim() };
      let ep: { subsets?: { addresses?: { ip?: string }[]; ports?: { name?: string; port?: number }[] }[] };
      try {
        ep = JSON.parse(ans.body);
      } catch (e) {
        throw notApiserver("get the endpoints default/kubernetes", ans, "JSON", e);
      }
      if (ans.status !== 200) throw new RunError(`cannot get the endpoints default/kubernetes: HTTP ${ans.status} ${statusMessage(ans.body) ?? ""}`.trim());
      const subset = ep.subsets?.[0];
      const port = subset?.ports?.find((p) => p.name === "https")?.port ?? subset?.ports?.[0]?.port ?? 443;
      return { addresses: (subset?.addresses ?? []).flatMap((a) => (a.ip ? [a.ip] : [])), port };
    },
    async getPod(namespace, name) {
      const what = `get pod ${namespace}/${name}`;
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
      const p = await json<Pod>("GET", path, what, `apiGroups [""] resources ["pods"] verbs ["get"] in namespace ${namespace}`, undefined, { maxBytes: OBJECT_ANSWER_MAX });
      return p ? reducePod(p) : undefined;
    },
    async getNode(name) {
      const n = await json<Node>("GET", `/api/v1/nodes/${encodeURIComponent(name)}`, `get node ${name}`, `apiGroups [""] resources ["nodes"] verbs ["get"]`, undefined, { maxBytes: OBJECT_ANSWER_MAX });
      return n ? reduceNode(n) : undefined;
    },
    async createToken(namespace, name, expirationSeconds) {
      const what = `create a token for ServiceAccount ${namespace}/${name}`;
      const res = await json<{ status?: { token?: string } }>(
        "POST",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`,
        what,
        `apiGroups [""] resources ["serviceaccounts/token"] verbs ["create"] in namespace ${namespace}`,
        { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds } },
      );
      if (!res) throw new ConfigError(`ServiceAccount ${namespace}/${name} not found; check --service-account NAMESPACE/NAME`);
      const token = res.status?.token;
      if (!token) throw new RunError(`cannot ${what}: the TokenRequest answer had no token`);
      return token;
    },
    async whoami() {
      const what = "ask the apiserver who you are (SelfSubjectReview)";
      const res = await json<{ status?: { userInfo?: { username?: string } } }>(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        what,
        "none: every authenticated user may (system:basic-user)",
        { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
      );
      const name = res?.status?.userInfo?.username;
      if (!name) throw new RunError(`cannot ${what}: ${res ? "the answer names no user" : "the API is not served (Kubernetes 1.28 or newer has it)"}`);
      return name;
    },
    async canI(q) {
      const spec =
        "path" in q
          ? { nonResourceAttributes: { path: q.path, verb: q.verb } }
          : { resourceAttributes: { verb: q.verb, group: q.group ?? "", resource: q.resource, subresource: q.subresource, namespace: q.namespace, name: q.name } };
      const res = await json<{ status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string } }>(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "ask the apiserver what you may do (SelfSubjectAccessReview)",
        "none: every authenticated user may (system:basic-user)",
        { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec },
      );
      return { allowed: res?.status?.allowed === true, reason: res?.status?.reason ?? res?.status?.evaluationError ?? "" };
    },
    async serverVersion() {
      const v = await json<{ gitVersion?: string }>("GET", "/version", "read the apiserver version", "none: /version is public (system:public-info-viewer)");
      return v?.gitVersion;
    },
    async getConfigMap(namespace, name) {
      return json<ConfigMap>(
        "GET",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`,
        `read the record ${namespace}/${name}`,
        `apiGroups [""] resources ["configmaps"] resourceNames ["${name}"] verbs ["get"] in namespace ${namespace}`,
        undefined,
        { maxBytes: OBJECT_ANSWER_MAX },
      );
    },
    async writeConfigMap(cm) {
      const ns = cm.metadata.namespace!;
      const create = cm.metadata.resourceVersion === undefined;
      const base = `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps`;
      const path = create ? base : `${base}/${encodeURIComponent(cm.metadata.name)}`;
      const rule = create
        ? `apiGroups [""] resources ["configmaps"] verbs ["create"] in namespace ${ns} (or create the ConfigMap ${cm.metadata.name} beforehand: kvlog rbac prints it)`
        : `apiGroups [""] resources ["configmaps"] resourceNames ["${cm.metadata.name}"] verbs ["update"] in namespace ${ns}`;
      const out = await json<ConfigMap | "conflict">(create ? "POST" : "PUT", path, `write the record ${ns}/${cm.metadata.name}`, rule, cm, { conflict: "conflict", maxBytes: OBJECT_ANSWER_MAX });
      // 404 on a PUT: deleted since it was read; the caller reads again and creates it.
      return out ?? "conflict";
    },
  };
}


/** The cluster access as kubectl finds it (credentials.ts's readAccess), with undici dispatchers. */
export function loadAccess(opts: AccessOptions): Promise<Access | undefined> {
  return readAccess(opts, newDispatcher);
}
