// What the fake's servers write (SIMULATED, test-only): metav1.Status objects as the apiserver
// marshals them (field order, Go's HTML escaping, the Forbidden / NotFound wording), the response
// writers of the Go packages involved (net/http.Error, routes.writePlainText, go-restful), request
// bodies, and the proxy's hop-by-hop headers.

import * as http from "node:http";
import { goQuote } from "./goparse.ts";
import type { StatusError } from "./configmaps.ts";
import { genId } from "./internal.ts";
import type { Attrs, StatusObj } from "./internal.ts";

/** Go encoding/json output: HTML-sensitive characters escaped. */
export function goJSON(v: unknown): string {
  const s = JSON.stringify(v);
  return /[<>&\u2028\u2029]/.test(s) ? s.replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) : s;
}

export const sanitizer = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function status(code: number, reason: string, message: string, details?: Record<string, unknown>): StatusObj {
  // Field order as metav1.Status marshals: kind, apiVersion, metadata, status, message, reason, details, code.
  const out: Partial<StatusObj> = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message };
  if (reason) out.reason = reason;
  if (details) out.details = details;
  out.code = code;
  return out as StatusObj;
}

export function details(name: string, group: string, kind: string, extra?: Record<string, unknown>): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (name) d.name = name;
  if (group) d.group = group;
  if (kind) d.kind = kind;
  return { ...d, ...(extra ?? {}) };
}

export const qualified = (group: string, resource: string): string => (group ? `${resource}.${group}` : resource);

export function notFound(group: string, resource: string, name: string): StatusObj {
  return status(404, "NotFound", `${qualified(group, resource)} ${goQuote(name)} not found`, details(name, group, resource));
}

export function newForbidden(group: string, resource: string, name: string, err: string): StatusObj {
  let message: string;
  if (!group && !resource) message = `forbidden: ${err}`;
  else if (!name) message = `${qualified(group, resource)} is forbidden: ${err}`;
  else message = `${qualified(group, resource)} ${goQuote(name)} is forbidden: ${err}`;
  return status(403, "Forbidden", message, details(name, group, resource));
}

/** responsewriters.Forbidden + forbiddenMessage (reason empty, as RBAC denials are). */
export function forbidden(a: Attrs, username: string): StatusObj {
  let msg: string;
  if (!a.resourceRequest) msg = `User ${goQuote(username)} cannot ${a.verb} path ${goQuote(a.path)}`;
  else {
    const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    msg = a.namespace
      ? `User ${goQuote(username)} cannot ${a.verb} resource ${goQuote(res)} in API group ${goQuote(a.apiGroup)} in the namespace ${goQuote(a.namespace)}`
      : `User ${goQuote(username)} cannot ${a.verb} resource ${goQuote(res)} in API group ${goQuote(a.apiGroup)} at the cluster scope`;
  }
  msg = sanitizer(msg);
  return a.resourceRequest ? newForbidden(a.apiGroup, a.resource, a.name, msg) : newForbidden("", "", "", msg);
}

export const unauthorized = (): StatusObj => status(401, "Unauthorized", "Unauthorized");
export const badRequest = (msg: string): StatusObj => status(400, "BadRequest", msg);
export const internalError = (msg: string): StatusObj => status(500, "", msg);

export function statusBody(s: StatusObj): string {
  return goJSON(s) + "\n";
}

export function fromStatusError(e: StatusError): StatusObj {
  return status(e.code, e.reason, e.message, e.details);
}

/** RFC 3339 with seconds, as metav1.Time marshals. */
export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, "Z");

/** A request body decoded as a JSON object (empty: {}), else the decoder's 400. */
export function parseJSONBody(body: Buffer): { ok: true; obj: Record<string, unknown> } | { ok: false; status: StatusObj } {
  if (body.length === 0) return { ok: true, obj: {} };
  try {
    const v: unknown = JSON.parse(body.toString());
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return { ok: true, obj: v as Record<string, unknown> };
    return { ok: false, status: badRequest("couldn't get version/kind; json parse error: json: cannot unmarshal into Go value of type struct") };
  } catch (e) {
    return { ok: false, status: badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`) };
  }
}

export const INDEX_HTML =
  "<html>\n<head>\n<title>/debug/flags/</title>\n</head>\n<body>\n/debug/flags/<br>\n<br>\nflags:<br>\n<table>\n\n<tr>v<br>\n\n</table>\n<br>\nfull flags configurable<br>\n</body>\n</html>\n";

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => resolve(Buffer.concat(chunks)));
    req.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

export function send(res: http.ServerResponse, code: number, headers: Record<string, string>, body: string | Buffer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(code, headers);
  res.end(body);
}

/** routes.writePlainText */
export function writePlainText(res: http.ServerResponse, code: number, text: Buffer | string): void {
  send(res, code, { "Content-Type": "text/plain", "X-Content-Type-Options": "nosniff" }, Buffer.concat([Buffer.from(text), Buffer.from("\n")]));
}

/** net/http.Error */
export function httpError(res: http.ServerResponse, code: number, text: string): void {
  send(res, code, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, text + "\n");
}

/** go-restful Response.WriteErrorString: no Content-Type set (Go sniffs it), no newline. */
export function restfulError(res: http.ServerResponse, code: number, text: string): void {
  send(res, code, { "Content-Type": "text/plain; charset=utf-8" }, text);
}

export function sendStatus(res: http.ServerResponse, s: StatusObj, extra: Record<string, string> = {}): void {
  send(res, s.code, { ...extra, "Content-Type": "application/json" }, statusBody(s));
}

export function rawResponse(code: number, headers: Record<string, string>, body: string | Buffer): Buffer {
  const b = Buffer.from(body);
  let head = `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ""}\r\n`;
  const all: Record<string, string> = { ...headers, Date: new Date().toUTCString(), "Content-Length": String(b.length) };
  for (const [k, v] of Object.entries(all)) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(head + "\r\n"), b]);
}

export function goDialError(e: NodeJS.ErrnoException, port: number): string {
  switch (e.code) {
    case "ECONNREFUSED":
      return `dial tcp 127.0.0.1:${port}: connect: connection refused`;
    case "ECONNRESET":
    case "EPIPE":
      return "EOF";
  }
  if (/socket hang up/.test(e.message)) return "EOF";
  return e.message;
}

/** etcd3/errors.go: the 410 for a continue token older than the compaction. */
export const INCONSISTENT_CONTINUE =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, " +
  "or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an " +
  "inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

export function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export const apiHeaders = (): Record<string, string> => ({ "Audit-Id": genId(), "Cache-Control": "no-cache, private" });
