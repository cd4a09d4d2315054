// One kubeconfig with a context per simulated cluster (and contexts whose cluster is unreachable,
// whose token is refused, whose exec plugin fails), for runs over several clusters.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { FakeCluster } from "./cluster.ts";

export type ContextSpec =
  | { name: string; cluster: FakeCluster; user?: string }
  /** The fake's server and CA, with this bearer token (one the apiserver refuses: 401). */
  | { name: string; cluster: FakeCluster; token: string }
  /** The fake's server and CA, credentials from an exec plugin (a command and its arguments). */
  | { name: string; cluster: FakeCluster; exec: { command: string; args: string[] } }
  /** A server that does not answer (nothing listens: connection refused), or does not accept (a socket that never answers). */
  | { name: string; server: string };

export interface ContextsKubeconfig {
  file: string;
  dir: string;
  close(): void;
}

/** Writes one kubeconfig with every context of `specs`, each with its own cluster and user entry. */
export function contextsKubeconfig(specs: ContextSpec[], current?: string): ContextsKubeconfig {
  const dir = mkdtempSync(join(tmpdir(), "kvlog-contexts-"));
  const clusters: unknown[] = [];
  const users: unknown[] = [];
  const contexts: unknown[] = [];
  for (const s of specs) {
    if ("server" in s) {
      clusters.push({ name: s.name, cluster: { server: s.server, "insecure-skip-tls-verify": true } });
      users.push({ name: s.name, user: { token: "unused-token-value" } });
    } else {
      const kc = new KubeConfig();
      kc.loadFromFile(s.cluster.kubeconfig("user" in s && s.user ? s.user : "admin"));
      const c = kc.getCurrentCluster()!;
      const u = kc.getCurrentUser()!;
      clusters.push({ name: s.name, cluster: { server: c.server, "certificate-authority-data": c.caData } });
      const user =
        "token" in s
          ? { token: s.token }
          : "exec" in s
            ? { exec: { apiVersion: "client.authentication.k8s.io/v1", command: s.exec.command, args: s.exec.args, interactiveMode: "Never" } }
            : u.token
              ? { token: u.token }
              : { "client-certificate-data": u.certData, "client-key-data": u.keyData };
      users.push({ name: s.name, user });
    }
    contexts.push({ name: s.name, context: { cluster: s.name, user: s.name } });
  }
  const file = join(dir, "config");
  const doc = { apiVersion: "v1", kind: "Config", clusters, users, contexts, "current-context": current ?? specs[0]?.name ?? "" };
  writeFileSync(file, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return { file, dir, close: () => rmSync(dir, { recursive: true, force: true }) };
}
