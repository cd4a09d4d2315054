// kvlog rbac: print the least-privilege RBAC for the chosen components (no cluster needed).

import type { Command } from "commander";
import type { Component } from "../components.js";
import { COMPONENTS } from "../components.js";
import { UsageError } from "../errors.js";
import { componentNamed, serviceAccountName } from "../options.js";
import { rbacYaml, type Subject } from "../rbac.js";
import type { Io } from "../io.js";

export interface RbacRequest {
  command: "rbac";
  components: Component[];
  subject: Subject;
  name: string;
  /** --capture: also what kvlog capture needs (pods/log; the kubelet's /logs/ is nodes/proxy get, already there). */
  capture: boolean;
}

interface RawRbacOptions {
  components?: string;
  serviceAccount?: string;
  user?: string;
  group?: string;
  name: string;
  capture?: boolean;
}

export function rbacCommand(root: Command, onParsed: (req: RbacRequest) => void): Command {
  return root
    .command("rbac")
    .summary("print the least-privilege RBAC kvlog needs, as YAML for kubectl apply -f -")
    .description(
      "Print the ClusterRole with exactly the rules kvlog needs for the components (every component by default), a ClusterRoleBinding to the subject (by default a placeholder group to replace), and the Role, RoleBinding and ConfigMaps of kvlog's record in kube-system. Each rule says what it allows.",
    )
    .option("--components <names>", "only these components, comma-separated (names or aliases)")
    .option("--service-account <namespace/name>", "bind the roles to this ServiceAccount")
    .option("--user <name>", "bind the roles to this user")
    .option("--group <name>", "bind the roles to this group")
    .option("--name <name>", "name of the roles and bindings", "kvlog")
    .option("--capture", "also what kvlog capture needs: get on pods/log (the kubelet's /logs/ is nodes/proxy get, already included)")
    .addHelpText(
      "after",
      `
Examples:
  kvlog rbac | kubectl apply -f -                                   then bind your people to ClusterRole kvlog
  kvlog rbac --components kubelet --group sre | kubectl apply -f -  only kubelets, for the group sre
  kvlog rbac --service-account ops/kvlog > kvlog-rbac.yaml
  kvlog rbac --capture | kubectl apply -f -                         also reading the components' logs (kvlog capture)`,
    )
    .action((opts: RawRbacOptions) => onParsed(validateRbac(opts)));
}

export function validateRbac(o: RawRbacOptions): RbacRequest {
  const components = o.components === undefined ? [...COMPONENTS] : [];
  for (const n of o.components?.split(",").map((s) => s.trim()) ?? []) {
    const c = componentNamed(n, " in --components");
    if (!components.includes(c)) components.push(c);
  }
  if (components.length === 0) throw new UsageError("--components is empty; name at least one component, or leave the flag out for all");
  const subjects = [o.serviceAccount, o.user, o.group].filter((x) => x !== undefined);
  if (subjects.length > 1) throw new UsageError("--service-account, --user and --group each name the subject: give only one");
  let subject: Subject;
  if (o.serviceAccount !== undefined) subject = { kind: "ServiceAccount", ...serviceAccountName(o.serviceAccount) };
  else if (o.user !== undefined || o.group !== undefined) {
    const name = (o.user ?? o.group)!.trim();
    if (!name) throw new UsageError(`--${o.user !== undefined ? "user" : "group"} is empty`);
    subject = { kind: o.user !== undefined ? "User" : "Group", name };
  }
  if (!/^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$/.test(o.name)) throw new UsageError(`--name "${o.name}" is not a valid ClusterRole name (lowercase letters, digits, '-', '.', ':')`);
  // Keep the catalog's order, whatever order they were named in.
  return { command: "rbac", components: COMPONENTS.filter((c) => components.includes(c)), subject, name: o.name, capture: o.capture === true };
}

export function runRbac(req: RbacRequest, io: Io): number {
  io.stdout.write(rbacYaml(req.components, req.subject, req.name, { capture: req.capture }));
  return 0;
}
