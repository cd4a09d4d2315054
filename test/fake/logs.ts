// Component logs for the fake cluster: what `kubectl logs` (pods/log) and the kubelet's /logs/
// (node log query, and the plain file server over /var/log/) answer, as upstream does.
//
// Every component "logs" at a rate that grows with its current verbosity: `base + perLevel * v`
// lines per second (default 2 + 10·v), each line tagged with the verbosity it was logged at
// (`v=N`, N ≤ the level then), so a test can see that a raise took effect and that some lines
// exist only at the raised level. Lines are not stored: they are computed for any time range
// from the target's level history and its containers' start times, so a 1,000-node fleet costs
// nothing until a log is read.
//
// Upstream read (kubernetes-facts.md "Reading a component's logs through the API"):
// - pods/log (pkg/registry/core/pod/rest/log.go, kubelet pkg/kubelet/kuberuntime/logs): query
//   `container`, `follow`, `previous`, `sinceSeconds` / `sinceTime` (cut to whole seconds),
//   `timestamps` (RFC3339Nano prefix), `tailLines`, `limitBytes`; 200 `text/plain`, chunked. A
//   follow ends cleanly when the container stops (a restart: the client asks again and gets the
//   new container's log). `previous=true` reads the last terminated container.
// - kubelet /logs/ (pkg/kubelet/kubelet.go ServeLogs, kubelet_server_journal.go): without the node
//   log query (gate NodeLogQuery off before 1.36, or enableSystemLogQuery false) a file server over
//   /var/log/ (Range requests, directory listing as HTML); with it, `?query=SVC&sinceTime=...`
//   runs journalctl (`--utc --output=short-precise`), or falls back to /var/log/SVC(.log) and then
//   refuses any option: 200 "\noptions present and query resolved to log files for [SVC]\ntry
//   without specifying options\n". Bad options: 400 (field errors); a path in query mode: 406.
//   enableSystemLogHandler false: 405 "logs endpoint is disabled.".

import type http from "node:http";

/** Where a component writes its log. kubelet: journald (kubeadm) or /var/log/kubelet.log (kube-up); others: stdout (pods/log). */
export type LogDestination = "stdout" | "journald" | "file" | "none";

export interface LogBehaviour {
  /** Lines per second at level 0 (default 2). */
  linesPerSecond?: number;
  /** Extra lines per second per level above 0 (default 10). */
  perLevel?: number;
  /** kubelet: "journald" (default) or "file" (/var/log/kubelet.log); others: "stdout" (default, pods/log) or "file" (/var/log/<kind>.log on its node, an empty pod log); "none": nowhere. */
  to?: LogDestination;
}

export interface KubeletLogGates {
  version: string;
  /** KubeletConfiguration enableSystemLogHandler (default true). */
  systemLogHandler: boolean;
  /** KubeletConfiguration enableSystemLogQuery (default false). */
  systemLogQuery: boolean;
  /** Feature gate NodeLogQuery: GA (locked on) from 1.36, beta and off by default 1.30-1.35. */
  nodeLogQueryGate: boolean;
}

interface Container {
  startMs: number;
  endMs?: number;
}

interface LogState {
  id: string;
  /** [ms, level] in time order. */
  levels: [number, number][];
  containers: Container[];
  behaviour: Required<Omit<LogBehaviour, "to">> & { to: LogDestination };
  /** Follows of the current container (ended when it stops). */
  follows: Set<Follow>;
  kind: string;
  node: string;
}

interface Follow {
  res: http.ServerResponse;
  sentUntil: number;
  timestamps: boolean;
  state: LogState;
  container: Container;
  limitBytes?: number;
  written: number;
  paused: boolean;
  /** The component writes to a file: nothing ever comes on this stream. */
  silent: boolean;
}

const MESSAGES: Record<string, string[]> = {
  kubelet: ["SyncLoop (housekeeping)", "Pod status is inconsistent with cached status", "Probe succeeded", "Calculated pod resource usage", "GET /healthz: (1.2ms) 200"],
  "kube-proxy": ["Syncing iptables rules", "syncProxyRules complete", "Reloading service iptables data", "Service port endpoints changed", "Network programming took"],
  "kube-scheduler": ["Attempting to schedule pod", "Successfully bound pod to node", "Pod is unschedulable", "Scoring nodes", "Filtering nodes"],
  "kube-controller-manager": ["Syncing deployment", "Finished syncing replica set", "Endpoints changed", "Node lifecycle tick", "Garbage collector sync"],
  "cloud-controller-manager": ["Syncing node addresses", "Successfully updated node", "Route controller tick", "Service load balancer sync", "Node exists in cloud provider"],
  "kube-apiserver": ["HTTP verb=GET", "Watch close", "Cache refreshed", "Admission chain ran", "etcd request"],
};
const FILES: Record<string, string> = {
  kubelet: "kubelet.go",
  "kube-proxy": "proxier.go",
  "kube-scheduler": "schedule_one.go",
  "kube-controller-manager": "controller.go",
  "cloud-controller-manager": "node_controller.go",
  "kube-apiserver": "httplog.go",
};
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const p2 = (n: number): string => String(n).padStart(2, "0");

function klogHeader(ms: number, v: number, pid: number): string {
  const d = new Date(ms);
  const micros = String(d.getUTCMilliseconds() * 1000 + (ms % 1 === 0 ? 0 : 0)).padStart(6, "0");
  return `${v === 0 && ms % 7 === 0 ? "W" : "I"}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${micros} ${String(pid).padStart(7)}`;
}

/** RFC3339Nano as the CRI log writes it: nine digits, UTC. */
export function rfc3339Nano(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

function journalTime(ms: number): string {
  const d = new Date(ms);
  return `${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${String(d.getUTCMilliseconds() * 1000).padStart(6, "0")}`;
}

/** A Go RFC3339 time (as time.Parse(time.RFC3339) reads it), or undefined. */
function parseRFC3339(s: string): number | undefined {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s)) return undefined;
  const ms = Date.parse(s.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(ms) ? undefined : ms;
}

export interface FakeLogs {
  /** Registers a target's log (its first container starts at `startMs`). */
  add(id: string, kind: string, node: string, startupLevel: number, behaviour: LogBehaviour | undefined, startMs: number): void;
  /** The target's level changed now (a PUT /debug/flags/v that succeeded). */
  setLevel(id: string, level: number): void;
  /** The target's container restarted now at `startupLevel`: follows of the old one end. */
  restarted(id: string, startupLevel: number): void;
  /** Every line of the target's current container between two times (for tests). */
  lines(id: string, fromMs: number, toMs: number): string[];
  /** Destroys every open follow (of one target, or all): the apiserver cut the streams. Returns how many. */
  cut(id?: string): number;
  /** Serves GET pods/log for a pod backed by target `id` (authorization already done). */
  servePodLog(id: string | undefined, pod: string, container: string, q: URLSearchParams, res: http.ServerResponse, sendStatus: (code: number, reason: string, message: string) => void): void;
  /** Serves the kubelet's /logs/ (authorization already done). */
  serveKubeletLogs(id: string, gates: KubeletLogGates, req: http.IncomingMessage, res: http.ServerResponse): void;
  close(): void;
}

export function createFakeLogs(now: () => number = Date.now): FakeLogs {
  const states = new Map<string, LogState>();
  const follows = new Set<Follow>();
  let timer: NodeJS.Timeout | undefined;

  const rate = (s: LogState, level: number): number => s.behaviour.linesPerSecond + s.behaviour.perLevel * Math.max(0, level);

  /** Each line's time and verbosity in [from, to) of a container, from the level history. */
  function* lineTimes(s: LogState, c: Container, fromMs: number, toMs: number): Generator<[number, number, number]> {
    const start = Math.max(fromMs, c.startMs);
    const end = Math.min(toMs, c.endMs ?? Infinity);
    if (!(end > start)) return;
    for (let i = 0; i < s.levels.length; i++) {
      const [segStart0, level] = s.levels[i]!;
      const segStart = Math.max(segStart0, c.startMs);
      const segEnd = Math.min(i + 1 < s.levels.length ? s.levels[i + 1]![0] : Infinity, end);
      if (segEnd <= start || segEnd <= segStart) continue;
      const r = rate(s, level);
      if (r <= 0) continue;
      const step = 1000 / r;
      let k = Math.max(0, Math.ceil((start - segStart) / step));
      for (let t = segStart + k * step; t < segEnd; t = segStart + ++k * step) {
        if (t < start) continue;
        // Lines at level 0 first in each second's share; the rest spread over 1..level.
        const base = s.behaviour.linesPerSecond;
        const v = level <= 0 || k % Math.max(1, Math.round(r)) < base ? 0 : 1 + (k % level);
        yield [Math.floor(t), v, k];
      }
    }
  }

  function text(s: LogState, ms: number, v: number, k: number): string {
    const msgs = MESSAGES[s.kind] ?? MESSAGES["kube-apiserver"]!;
    const msg = v === 0 ? msgs[k % 2]! : `${msgs[2 + (k % 3)]!} (V(${v}) detail)`;
    return `${klogHeader(ms, v, 1)} ${FILES[s.kind] ?? "main.go"}:${100 + (k % 900)}] "${msg}" node="${s.node}" v=${v} seq=${k}`;
  }

  function currentLines(s: LogState, c: Container, fromMs: number, toMs: number, format: (ms: number, line: string) => string): string[] {
    const out: string[] = [];
    for (const [ms, v, k] of lineTimes(s, c, fromMs, toMs)) out.push(format(ms, text(s, ms, v, k)));
    return out;
  }

  function tick(): void {
    const t = now();
    for (const f of follows) {
      if (f.paused || f.silent || f.res.destroyed) continue;
      const lines = currentLines(f.state, f.container, f.sentUntil, t, (ms, l) => (f.timestamps ? `${rfc3339Nano(ms)} ${l}` : l));
      f.sentUntil = t;
      if (lines.length === 0) continue;
      let chunk = lines.join("\n") + "\n";
      if (f.limitBytes !== undefined) {
        chunk = chunk.slice(0, Math.max(0, f.limitBytes - f.written));
        if (!chunk) {
          endFollow(f);
          continue;
        }
      }
      f.written += Buffer.byteLength(chunk);
      if (!f.res.write(chunk)) {
        f.paused = true;
        f.res.once("drain", () => (f.paused = false));
      }
    }
  }

  function endFollow(f: Follow): void {
    follows.delete(f);
    f.state.follows.delete(f);
    if (!f.res.writableEnded) f.res.end();
    if (follows.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  return {
    add(id, kind, node, startupLevel, behaviour, startMs) {
      states.set(id, {
        id,
        kind,
        node,
        levels: [[startMs, startupLevel]],
        containers: [{ startMs }],
        behaviour: { linesPerSecond: behaviour?.linesPerSecond ?? 2, perLevel: behaviour?.perLevel ?? 10, to: behaviour?.to ?? (kind === "kubelet" ? "journald" : "stdout") },
        follows: new Set(),
      });
    },
    setLevel(id, level) {
      const s = states.get(id);
      if (!s) return;
      tick(); // followers get the lines at the old level first
      s.levels.push([now(), level]);
    },
    restarted(id, startupLevel) {
      const s = states.get(id);
      if (!s) return;
      tick();
      const t = now();
      s.containers.at(-1)!.endMs = t;
      s.containers.push({ startMs: t });
      s.levels.push([t, startupLevel]);
      for (const f of [...s.follows]) endFollow(f);
    },
    lines(id, fromMs, toMs) {
      const s = states.get(id);
      if (!s) return [];
      return currentLines(s, s.containers.at(-1)!, fromMs, toMs, (_ms, l) => l);
    },
    cut(id) {
      let n = 0;
      for (const f of [...follows]) {
        if (id !== undefined && f.state.id !== id) continue;
        follows.delete(f);
        f.state.follows.delete(f);
        f.res.destroy();
        n++;
      }
      return n;
    },
    servePodLog(id, pod, container, q, res, sendStatus) {
      const s = id ? states.get(id) : undefined;
      // validation as the apiserver's PodLogOptions conversion does it
      const sinceTimeRaw = q.get("sinceTime");
      const sinceSeconds = q.get("sinceSeconds");
      if (sinceTimeRaw && sinceSeconds) return sendStatus(422, "Invalid", `PodLogOptions "${pod}" is invalid: sinceSeconds: Forbidden: at most one of \`sinceTime\` or \`sinceSeconds\` may be specified`);
      let since: number | undefined;
      if (sinceTimeRaw) {
        const t = parseRFC3339(sinceTimeRaw);
        if (t === undefined) return sendStatus(400, "BadRequest", `parsing time "${sinceTimeRaw}" as "2006-01-02T15:04:05Z07:00": cannot parse "${sinceTimeRaw}" as "2006"`);
        since = Math.floor(t / 1000) * 1000; // the apiserver keeps whole seconds
      } else if (sinceSeconds) {
        if (!/^\d+$/.test(sinceSeconds) || Number(sinceSeconds) < 1) return sendStatus(422, "Invalid", `PodLogOptions "${pod}" is invalid: sinceSeconds: Invalid value: ${sinceSeconds}: must be greater than 0`);
        since = now() - Number(sinceSeconds) * 1000;
      }
      const c = q.get("container");
      if (c && c !== container) return sendStatus(400, "BadRequest", `container ${c} is not valid for pod ${pod}`);
      const follow = q.get("follow") === "true";
      const previous = q.get("previous") === "true";
      const timestamps = q.get("timestamps") === "true";
      const tail = q.get("tailLines");
      const limit = q.get("limitBytes");
      res.writeHead(200, { "Content-Type": "text/plain", "Transfer-Encoding": "chunked" });
      if (!s) return void res.end();
      // A component that writes its log to a file (kube-up style manifests): its pod log is empty (a follow stays open, quiet).
      const silent = s.behaviour.to === "file";
      const cont = previous ? s.containers.at(-2) : s.containers.at(-1)!;
      if (!cont) {
        res.removeHeader("Transfer-Encoding");
        return sendStatus(400, "BadRequest", `previous terminated container "${container}" in pod "${pod}" not found`);
      }
      const t = now();
      let lines = silent ? [] : currentLines(s, cont, since ?? 0, t, (ms, l) => (timestamps ? `${rfc3339Nano(ms)} ${l}` : l));
      if (tail && /^\d+$/.test(tail)) lines = lines.slice(Math.max(0, lines.length - Number(tail)));
      let chunk = lines.length ? lines.join("\n") + "\n" : "";
      if (limit && /^\d+$/.test(limit)) chunk = chunk.slice(0, Number(limit));
      if (chunk) res.write(chunk);
      if (!follow || previous || cont.endMs !== undefined || (limit && Buffer.byteLength(chunk) >= Number(limit))) return void res.end();
      const f: Follow = { res, sentUntil: t, timestamps, state: s, container: cont, written: Buffer.byteLength(chunk), paused: false, silent, ...(limit ? { limitBytes: Number(limit) } : {}) };
      follows.add(f);
      s.follows.add(f);
      res.once("close", () => {
        follows.delete(f);
        s.follows.delete(f);
      });
      timer ??= setInterval(tick, 100);
    },
    serveKubeletLogs(id, gates, req, res) {
      const s = states.get(id);
      const u = new URL(req.url ?? "/", "https://kubelet");
      const plain = (code: number, body: string, extra: Record<string, string> = {}): void => {
        res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff", ...extra });
        res.end(body);
      };
      if (!gates.systemLogHandler) return plain(405, "logs endpoint is disabled.\n");
      if (req.method !== "GET" && req.method !== "HEAD") return plain(405, "Method Not Allowed\n");
      const to = s?.behaviour.to ?? "journald";
      const file = to === "file" ? "kubelet.log" : undefined;
      const contentOf = (x: LogState): string => currentLines(x, x.containers.at(-1)!, 0, now(), (_ms, l) => l).map((l) => l + "\n").join("");
      const fileContent = (): string => (s ? contentOf(s) : "");
      // Components on this node that write /var/log/<kind>.log (the kubelet's own is `file`).
      const others = new Map([...states.values()].filter((x) => s && x !== s && x.node === s.node && x.behaviour.to === "file").map((x) => [`${x.kind}.log`, x]));
      const rel = u.pathname.replace(/^\/logs\/?/, "");
      if (gates.nodeLogQueryGate && gates.systemLogQuery) {
        const q = u.searchParams;
        const errs: string[] = [];
        const queries = q.getAll("query");
        const services = queries.filter((x) => !/[/\\]/.test(x) && x.trim() !== "");
        const files = queries.filter((x) => /[/\\]/.test(x));
        if (q.has("query") && services.length === 0 && files.length === 0) errs.push(`query: Invalid value: ${JSON.stringify(queries)}: query cannot be empty`);
        const sinceRaw = q.get("sinceTime");
        const untilRaw = q.get("untilTime");
        const since = sinceRaw ? parseRFC3339(sinceRaw) : undefined;
        const until = untilRaw ? parseRFC3339(untilRaw) : undefined;
        if (sinceRaw && since === undefined) errs.push(`sinceTime: Invalid value: "${sinceRaw}": invalid time format`);
        if (untilRaw && until === undefined) errs.push(`untilTime: Invalid value: "${untilRaw}": invalid time format`);
        const tail = q.get("tailLines");
        if (tail && !/^-?\d+$/.test(tail)) errs.push(`tailLines: Invalid value: "${tail}": strconv.Atoi: parsing "${tail}": invalid syntax`);
        if (errs.length) return plain(400, (errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`) + "\n");
        const options = sinceRaw || untilRaw || tail || q.get("boot") || q.get("pattern");
        const nlq = services.length > 0 || files.length > 0 || options;
        if (nlq) {
          if (rel !== "") return plain(406, "path not allowed in query mode\n");
          if (services.length === 0 && files.length === 0) return plain(406, "query: Required value: cannot be empty with options\n");
          if (files.length > 0 && options) return plain(406, `query: Invalid value: ${JSON.stringify(files)}: cannot specify file with options\n`);
          if (services.length > 0) {
            res.writeHead(200, { "Content-Type": "text/plain;charset=UTF-8" });
            const svc = services[0]!;
            const native = svc === "kubelet" && to === "journald" && s;
            if (native) {
              const lines = currentLines(s!, s!.containers.at(-1)!, since ?? 0, until !== undefined ? until + 1000 : now(), (ms, l) => `${journalTime(ms)} ${s!.node} kubelet[1234]: ${l}`);
              const cut = tail && /^\d+$/.test(tail) ? lines.slice(Math.max(0, lines.length - Number(tail))) : lines;
              return void res.end(cut.length ? cut.join("\n") + "\n" : "-- No entries --\n");
            }
            // Not in journald: /var/log/SVC, SVC.log, SVC/SVC.log, and no options on those.
            const found = svc === "kubelet" && file;
            if (found && options) return void res.end(`\noptions present and query resolved to log files for [${services.join(" ")}]\ntry without specifying options\n`);
            if (found) return void res.end(fileContent());
            return void res.end(`\nlog not found for ${svc}\n`);
          }
        }
      }
      // http.FileServer(http.Dir("/var/log/")) behind StripPrefix("/logs/").
      if (rel === "") {
        const entries = ["containers/", "pods/", ...[...(file ? [file] : []), ...others.keys()].sort()];
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        return void res.end(`<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n${entries.map((e) => `<a href="${e}">${e}</a>`).join("\n")}\n</pre>\n`);
      }
      const other = others.get(rel);
      if (rel !== file && !other) return plain(404, "404 page not found\n");
      const body = Buffer.from(other ? contentOf(other) : fileContent());
      const range = req.headers.range;
      if (range) {
        const m = /^bytes=(\d*)-(\d*)$/.exec(range);
        if (m && (m[1] || m[2])) {
          let start: number;
          let end: number;
          if (!m[1]) {
            const n = Number(m[2]);
            start = Math.max(0, body.length - n);
            end = body.length - 1;
          } else {
            start = Number(m[1]);
            end = m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
          }
          if (start >= body.length || (m[1] && start > end)) {
            return plain(416, "invalid range: failed to overlap\n", { "Content-Range": `bytes */${body.length}` });
          }
          res.writeHead(206, { "Content-Type": "text/plain; charset=utf-8", "Content-Range": `bytes ${start}-${end}/${body.length}`, "Content-Length": String(end - start + 1), "Accept-Ranges": "bytes" });
          return void res.end(body.subarray(start, end + 1));
        }
      }
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": String(body.length), "Accept-Ranges": "bytes" });
      res.end(body);
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      for (const f of [...follows]) f.res.destroy();
      follows.clear();
    },
  };
}
