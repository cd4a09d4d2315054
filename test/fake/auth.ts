// The fake's authentication and authorization (SIMULATED, test-only): request attributes as the
// apiserver's RequestInfoFactory makes them, RBAC-like rule matching (FakeRule) with the built-in
// group rules, the union of x509 / bearer token / anonymous authenticators, client certificates
// per user, and TokenRequest (bound ServiceAccount tokens, JWT-shaped but unsigned).

import * as crypto from "node:crypto";
import type * as http from "node:http";
import type * as tls from "node:tls";
import type { KeyAndCert } from "./x509.ts";
import type { FakeRule } from "./types.ts";
import { genId, hex64, tagOf } from "./internal.ts";
import type { Attrs, Authn, Identity } from "./internal.ts";
import { badRequest, notFound, sendStatus, status } from "./status.ts";
import type { World } from "./state.ts";

export function verbForMethod(method: string): string {
  switch (method) {
    case "POST":
      return "create";
    case "GET":
    case "HEAD":
      return "get";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return "delete";
  }
  return "";
}

/** A subset of the apiserver's RequestInfoFactory. */
export function requestInfo(method: string, pathname: string, query: URLSearchParams): Attrs {
  const a: Attrs = {
    resourceRequest: false,
    verb: method.toLowerCase(),
    path: pathname,
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
    parts: [],
  };
  const segs = pathname.replace(/^\/+/, "").split("/");
  let rest: string[];
  if (segs[0] === "api") {
    if (segs.length < 3 || !segs[2]) return a;
    a.apiVersion = segs[1] ?? "";
    rest = segs.slice(2);
  } else if (segs[0] === "apis") {
    if (segs.length < 4 || !segs[3]) return a;
    a.apiGroup = segs[1] ?? "";
    a.apiVersion = segs[2] ?? "";
    rest = segs.slice(3);
  } else return a;
  const verb = verbForMethod(method);
  if (!verb) return a;
  a.resourceRequest = true;
  a.verb = verb;
  let parts = rest;
  if (parts[0] === "namespaces" && parts.length > 1) {
    a.namespace = parts[1] ?? "";
    if (parts.length > 2 && parts[2] !== "status" && parts[2] !== "finalize") parts = parts.slice(2);
  }
  a.parts = parts;
  if (parts.length >= 3) a.subresource = parts[2] ?? "";
  if (parts.length >= 2) a.name = parts[1] ?? "";
  a.resource = parts[0] ?? "";
  if (!a.name && a.verb === "get") a.verb = query.get("watch") === "true" || query.get("watch") === "1" ? "watch" : "list";
  if (!a.name && a.verb === "delete") a.verb = "deletecollection";
  return a;
}

export function ruleMatches(r: FakeRule, a: Attrs): boolean {
  if (!r.verbs.includes("*") && !r.verbs.includes(a.verb)) return false;
  const namespaces = r.namespace !== undefined ? [r.namespace, ...(r.namespaces ?? [])] : r.namespaces;
  if (!a.resourceRequest) {
    // A RoleBinding grants no non-resource URL.
    if (namespaces) return false;
    return (r.nonResourceURLs ?? []).some(
      (u) => u === "*" || u === a.path || (u.endsWith("*") && a.path.startsWith(u.slice(0, -1))),
    );
  }
  if (!r.resources) return false;
  const groups = r.apiGroups ?? [""];
  if (!groups.includes("*") && !groups.includes(a.apiGroup)) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resOk = r.resources.some(
    (x) =>
      x === "*" ||
      x === combined ||
      (a.subresource !== "" && x.length === a.subresource.length + 2 && x.startsWith("*/") && x.endsWith(a.subresource)),
  );
  if (!resOk) return false;
  if (r.resourceNames && r.resourceNames.length > 0 && !r.resourceNames.includes(a.name)) return false;
  if (namespaces && !namespaces.includes(a.namespace)) return false;
  return true;
}

export const BUILTIN_GROUP_RULES: Record<string, FakeRule[]> = {
  // cluster-admin, bound to kubeadm:cluster-admins by kubeadm 1.29+.
  "kubeadm:cluster-admins": [
    { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
    { verbs: ["*"], nonResourceURLs: ["*"] },
  ],
  // system:basic-user, system:discovery, system:public-info-viewer
  "system:authenticated": [
    { verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] },
    { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"] },
    {
      verbs: ["get"],
      nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
    },
  ],
  "system:unauthenticated": [{ verbs: ["get"], nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"] }],
};

export type Auth = ReturnType<typeof createAuth>;

export function createAuth(w: World) {
  const { userCerts, users, staticTokens, groupRules, mintedTokens, serviceAccounts, serviceAccountUid } = w;

  function identityOf(name: string, extraGroups: string[] = []): Identity {
    const u = users.get(name);
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(name);
    const groups = [...(u?.groups ?? []), ...extraGroups];
    if (sa) groups.push("system:serviceaccounts", `system:serviceaccounts:${sa[1]}`);
    if (!groups.includes("system:authenticated")) groups.push("system:authenticated");
    // The ServiceAccount token authenticator sets the ServiceAccount's uid.
    return sa ? { name, groups, uid: serviceAccountUid(sa[1] ?? "", sa[2] ?? "") } : { name, groups };
  }

  function rulesFor(user: Identity): FakeRule[] {
    const rules = [...(users.get(user.name)?.rules ?? [])];
    for (const g of user.groups) rules.push(...(groupRules[g] ?? []));
    return rules;
  }

  function authorize(user: Identity, a: Attrs): { allowed: boolean; reason: string } {
    if (user.groups.includes("system:masters")) return { allowed: true, reason: "" };
    const direct = users.get(user.name)?.rules ?? [];
    if (direct.some((r) => ruleMatches(r, a)))
      return {
        allowed: true,
        reason: `RBAC: allowed by ClusterRoleBinding "fake:${user.name}" of ClusterRole "fake:${user.name}" to User "${user.name}"`,
      };
    for (const g of user.groups) {
      if ((groupRules[g] ?? []).some((r) => ruleMatches(r, a)))
        return { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "fake:${g}" of ClusterRole "fake:${g}" to Group "${g}"` };
    }
    return { allowed: false, reason: "" };
  }

  /** A user's client certificate (CN=user, O=groups), issued at start (state.ts). */
  function certFor(name: string): KeyAndCert {
    const c = userCerts.get(name);
    if (!c) throw new Error(`fake cluster: unknown user ${JSON.stringify(name)}`);
    return c;
  }

  /** Union of x509 and bearer-token authenticators, then anonymous (FailOnError). */
  const certAuthn = new WeakMap<tls.TLSSocket, Identity | "none" | "failed">();
  function authenticate(req: http.IncomingMessage, allowAnonymous: boolean, extraToken?: string): Authn {
    const sock = req.socket as tls.TLSSocket;
    // In-process stream from the apiserver's node proxy: it stands for the apiserver's
    // kubelet-client certificate (which a real TLS handshake would have verified).
    const tagged = tagOf(sock)?.identity;
    if (tagged) return { kind: "user", user: { name: tagged.name, groups: [...tagged.groups] }, cred: "cert" };
    let failed: "bearer" | "cert" | undefined;
    if (sock.encrypted) {
      // The peer certificate is the connection's: decide once per connection.
      let byCert = certAuthn.get(sock);
      if (byCert === undefined) {
        byCert = "none";
        const pc = sock.getPeerCertificate();
        if (pc && pc.subject && Object.keys(pc.subject).length > 0) {
          if (sock.authorized) {
            const cn = String(pc.subject.CN ?? "");
            const o = pc.subject.O;
            const groups = o === undefined ? [] : Array.isArray(o) ? o.map(String) : [String(o)];
            // x509 authenticator: the credential id is the certificate's SHA-256.
            const fp = String(pc.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
            byCert = { name: cn, groups: [...groups, "system:authenticated"], extra: { "authentication.kubernetes.io/credential-id": [`X509SHA256=${fp}`] } };
          } else byCert = "failed";
        }
        certAuthn.set(sock, byCert);
      }
      if (typeof byCert === "object") return { kind: "user", user: { ...byCert, groups: [...byCert.groups] }, cred: "cert" };
      if (byCert === "failed") failed = "cert";
    }
    let token: string | undefined;
    const h = String(req.headers.authorization ?? "").trim();
    const parts = h.split(" ");
    if (parts.length >= 2 && (parts[0] ?? "").toLowerCase() === "bearer" && parts[1]) token = parts[1];
    if (!token && extraToken) token = extraToken;
    if (token) {
      const staticUser = staticTokens.get(token);
      if (staticUser) return { kind: "user", user: identityOf(staticUser), cred: "bearer" };
      const minted = mintedTokens.get(token);
      if (minted && minted.exp > Date.now()) return { kind: "user", user: minted.user, cred: "bearer" };
      failed = "bearer";
    }
    if (failed) return { kind: "error", cred: failed };
    if (!allowAnonymous) return { kind: "error", cred: "none" };
    return { kind: "anonymous", cred: "none" };
  }

  function tokenRequest(res: http.ServerResponse, attrs: Attrs, body: Buffer, json: (code: number, obj: unknown) => void): void {
    let reqObj: { spec?: { expirationSeconds?: number; audiences?: string[] } } = {};
    try {
      reqObj = body.length ? JSON.parse(body.toString()) : {};
    } catch (e) {
      return sendStatus(res, badRequest(`error decoding TokenRequest: ${(e as Error).message}`));
    }
    // SetDefaults_TokenRequestSpec: 3600 s. TokenREST.Create validates before it looks the ServiceAccount up.
    const exp = reqObj.spec?.expirationSeconds ?? 3600;
    const invalid = (detail: string): void =>
      sendStatus(
        res,
        status(422, "Invalid", `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: ${exp}: ${detail}`, {
          group: "authentication.k8s.io",
          kind: "TokenRequest",
          causes: [{ reason: "FieldValueInvalid", message: `Invalid value: ${exp}: ${detail}`, field: "spec.expirationSeconds" }],
        }),
      );
    if (exp < 600) return invalid("may not specify a duration less than 10 minutes");
    if (exp > 2 ** 32) return invalid("may not specify a duration larger than 2^32 seconds");
    if (!serviceAccounts.has(`${attrs.namespace}/${attrs.name}`)) return sendStatus(res, notFound("", "serviceaccounts", attrs.name));
    const audiences = reqObj.spec?.audiences?.length ? reqObj.spec.audiences : ["https://kubernetes.default.svc.cluster.local"];
    const now = Math.floor(Date.now() / 1000);
    const sub = `system:serviceaccount:${attrs.namespace}:${attrs.name}`;
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
    const jti = genId();
    const token = [
      b64({ alg: "RS256", kid: hex64("kid").slice(0, 43) }),
      b64({
        aud: audiences,
        exp: now + exp,
        iat: now,
        iss: "https://kubernetes.default.svc.cluster.local",
        jti,
        "kubernetes.io": { namespace: attrs.namespace, serviceaccount: { name: attrs.name, uid: serviceAccountUid(attrs.namespace, attrs.name) } },
        nbf: now,
        sub,
      }),
      crypto.randomBytes(64).toString("base64url"),
    ].join(".");
    // A bound token's identity: the ServiceAccount's uid and the token's JTI as its credential id.
    mintedTokens.set(token, { user: { ...identityOf(sub), extra: { "authentication.kubernetes.io/credential-id": [`JTI=${jti}`] } }, exp: (now + exp) * 1000 });
    return json(201, {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name: attrs.name, namespace: attrs.namespace },
      spec: { audiences, expirationSeconds: exp, boundObjectRef: null },
      status: { token, expirationTimestamp: new Date((now + exp) * 1000).toISOString().replace(/\.\d+Z$/, "Z") },
    });
  }

  return { identityOf, rulesFor, authorize, certFor, authenticate, tokenRequest };
}
