// target: what kvlog acts on, one component process, and the path to it. A union keyed on
// `via`, so each way of reaching it (transport.ts) has what it needs without assertions: the
// URL of a direct target, the node of a node-proxy target, the pod of a port-forward target. A
// target that is not to be contacted (missing, not running, skipped, interrupted) carries
// `unavailable` and may lack its path; it is reported, never reached.

import type { ComponentName } from "./components.js";

/** A startup level (null: unknown) and where it was read, or why it could not be. */
export interface Startup {
  level: number | null;
  source: string;
}

/** Why a target is not to be contacted. `skipped`: left out on purpose, not a failure of the run. */
export interface Unavailable {
  outcome: "missing" | "pod-not-running" | "node-not-ready" | "untrusted" | "interrupted" | "unknown-startup" | "superseded";
  message: string;
  hint?: string | undefined;
  skipped?: boolean | undefined;
}

/** The path to a target: its own address, the apiserver's node proxy, or a port-forward to its pod. */
export type Via = "direct" | "node-proxy" | "port-forward";

interface Common {
  /** Stable id: `kubelet/node-a`, `kube-scheduler/kube-system/kube-scheduler-cp-1`, `kube-apiserver/10.0.0.1:6443`. */
  id: string;
  component: ComponentName;
  authenticates: boolean;
  scheme: "https" | "http";
  port: number;
  /** The node it runs on, when known. */
  node?: string | undefined;
  /** The component's version when known (pod image tag, node info), to explain a 404. */
  version?: string | undefined;
  /** The startup level when discovery read it (a pod's command line); otherwise it is asked for. */
  startup?: Startup | undefined;
  /** Identifies this run of the target's process (a pod's uid, restart count, start time). */
  incarnation?: string | undefined;
}

/** At its own address: the apiserver (or a replica), --endpoint, a kubelet with --direct. */
export interface DirectTarget extends Common {
  via: "direct";
  /** The URL of the endpoint's origin (the path is added by the sender). */
  url: string;
  /**
   * The address comes from the node's own status, which its kubelet writes; a bearer token goes
   * there only if it was minted for the run or `tokenToNodes` allows it.
   */
  nodeReported?: boolean | undefined;
  tokenToNodes?: boolean | undefined;
  /** A kube-apiserver replica reached at its own address (the apiserver's TLS settings, without its server name). */
  replica?: boolean | undefined;
  namespace?: undefined;
  pod?: undefined;
  unavailable?: undefined;
}

/** A kubelet through the apiserver's /api/v1/nodes/NODE/proxy. */
export interface NodeProxyTarget extends Common {
  via: "node-proxy";
  node: string;
  url?: undefined;
  namespace?: undefined;
  pod?: undefined;
  nodeReported?: undefined;
  tokenToNodes?: undefined;
  replica?: undefined;
  unavailable?: undefined;
}

/** A component's pod, through a port-forward tunnel to its port. */
export interface PortForwardTarget extends Common {
  via: "port-forward";
  namespace: string;
  pod: string;
  url?: undefined;
  nodeReported?: undefined;
  tokenToNodes?: undefined;
  replica?: undefined;
  unavailable?: undefined;
}

/** A target that is not to be contacted: reported with its outcome. Its path may be incomplete (no address, no pod). */
export interface UnavailableTarget extends Common {
  via: Via;
  unavailable: Unavailable;
  url?: string | undefined;
  namespace?: string | undefined;
  pod?: string | undefined;
  nodeReported?: boolean | undefined;
  tokenToNodes?: boolean | undefined;
  replica?: boolean | undefined;
}

/** A target kvlog may contact: `if (t.unavailable)` narrows a Target to one. */
export type Reachable = DirectTarget | NodeProxyTarget | PortForwardTarget;

export type Target = Reachable | UnavailableTarget;

/** A target that an interrupt (or --timeout) kept kvlog from reaching. */
export function interrupted(target: Target, why = "interrupted"): Target {
  return { ...target, unavailable: { outcome: "interrupted", message: `not attempted: ${why} before kvlog reached it (its level is unchanged)` } };
}
