// Internal shapes of the fake cluster (SIMULATED, test-only): targets, pods, nodes, identities and
// request attributes as the modules share them, the per-kind constants (the minor that added
// /debug/flags/v, host ports, images), and small helpers (ids, listening on loopback).

import * as crypto from "node:crypto";
import * as net from "node:net";
import type * as http from "node:http";
import type { LevelSyntax } from "./goparse.ts";
import type { LogBehaviour } from "./logs.ts";
import type { ReadyCondition } from "./objects.ts";
import { sha256hex } from "./objects.ts";
import type { ComponentBehaviour, ComponentMode, FakeComponentKind, FakeNodeSpec, FakePodSpec, RecordedRequest } from "./types.ts";

export type Kind = FakeComponentKind | "kubelet";

export interface Resolved {
  profiling: boolean;
  debugFlagsHandler: boolean;
  debuggingHandlers: boolean;
  version: string;
  mode: ComponentMode;
  levelSyntax: LevelSyntax;
  delayMs: number;
  startupLevel: number;
  /** startupLevel was given (the pod's command carries --v=N; level() reports it before any PUT). */
  startupExplicit: boolean;
  flagz: boolean;
  logs: LogBehaviour | undefined;
  systemLogQuery: boolean;
  systemLogHandler: boolean;
  nodeLogQueryGate: boolean;
}

export interface Target {
  id: string;
  kind: Kind;
  node: string;
  pod?: Pod;
  behaviour: Resolved;
  explicit: ComponentBehaviour;
  port: number;
  hostPort: number;
  server?: http.Server;
  tls?: { keyPem: string; certChainPem: string };
  /** Served in process: no listener, no certificate of its own. */
  virtual: boolean;
  /** Speaks TLS (everything but kube-proxy). */
  secure: boolean;
  /** kube-apiserver replicas: the address it listens on (127.0.0.i). */
  host?: string;
}

export interface Pod {
  spec: FakePodSpec;
  namespace: string;
  labels: Record<string, string>;
  uid: string;
  sandboxId: string;
  target?: Target;
  created: string;
  /** etcd key after /registry/pods/: "ns/name". */
  key: string;
  /** containerStatuses[0]: restarts so far, when the running container started, the previous run. */
  restartCount: number;
  startedAt: string;
  lastTerminated?: { startedAt: string; finishedAt: string; containerID: string };
}

export interface Node {
  spec: FakeNodeSpec;
  labels: Record<string, string>;
  uid: string;
  created: string;
  kubelet?: Target;
  ready: ReadyCondition;
  virtual: boolean;
  index: number;
}

/** What an in-process (virtual) connection carries instead of a TCP peer. */
export interface StreamTag {
  target?: Target;
  via: RecordedRequest["via"];
  /** The identity a client certificate would have given (the apiserver's kubelet-client). */
  identity?: Identity;
}
export const TAG = Symbol("kvlog-fake-stream");
export type Tagged = { [TAG]?: StreamTag };
export const tagOf = (s: unknown): StreamTag | undefined => (s as Tagged | undefined)?.[TAG];

export interface Identity {
  name: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

export type Authn =
  | { kind: "user"; user: Identity; cred: "bearer" | "cert" }
  | { kind: "anonymous"; cred: "none" }
  | { kind: "error"; cred: "bearer" | "cert" | "none" };

export interface Attrs {
  resourceRequest: boolean;
  verb: string;
  path: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  parts: string[];
}

export interface StatusObj {
  kind: "Status";
  apiVersion: "v1";
  metadata: { continue?: string };
  status: "Failure";
  message: string;
  reason?: string;
  details?: Record<string, unknown>;
  code: number;
}

export const SINCE: Record<Kind, number> = {
  "kube-apiserver": 11,
  "kube-scheduler": 12,
  "kube-controller-manager": 23,
  "cloud-controller-manager": 23,
  "kube-proxy": 22,
  kubelet: 12,
};

export const HOST_PORT: Record<Kind, number> = {
  "kube-apiserver": 6443,
  "kube-scheduler": 10259,
  "kube-controller-manager": 10257,
  "cloud-controller-manager": 10258,
  "kube-proxy": 10249,
  kubelet: 10250,
};

export const IMAGE: Record<FakeComponentKind, string> = {
  "kube-apiserver": "registry.k8s.io/kube-apiserver",
  "kube-scheduler": "registry.k8s.io/kube-scheduler",
  "kube-controller-manager": "registry.k8s.io/kube-controller-manager",
  "cloud-controller-manager": "registry.k8s.io/cloud-controller-manager",
  "kube-proxy": "registry.k8s.io/kube-proxy",
};

export function minorOf(version: string): number {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? Number(m[1]) * 1000 + Number(m[2]) : 1034;
}
export const minorAtLeast = (version: string, minor: number): boolean => minorOf(version) >= 1000 + minor;

export function genId(): string {
  return crypto.randomUUID();
}

export function hex64(seed: string): string {
  return crypto.createHash("sha256").update(seed).digest("hex");
}

export function listen(server: net.Server, port = 0, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Fails (EADDRINUSE, ...) unless host:port is free right now. */
export async function probeFree(host: string, port: number): Promise<void> {
  const s = net.createServer();
  await listen(s, port, host);
  await new Promise<void>((r) => s.close(() => r()));
}

export async function reservePort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A UUID-shaped, stable id from a name (FlowSchema / PriorityLevelConfiguration uids). */
export function uidFrom(seed: string): string {
  const h = sha256hex(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
