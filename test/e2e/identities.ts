// The least-privilege identity the e2e files act as: the documented RBAC (docs/rbac-and-security.md,
// which is `kvlog rbac`'s output) bound to the ServiceAccount kvlog in the suite's namespace, as
// users are told to grant it.
import { DOC_BLOCKS, docBlock } from "../docs-blocks.ts";

/**
 * The documented ClusterRole, Role (the record) and record ConfigMaps; its placeholder bindings
 * left out. (Named from when the block was in the README.)
 */
export function readmeRoles(): string {
  const rbac = docBlock("rbac");
  const docs = rbac.split(/^---$/m);
  if (!docs.some((d) => /^kind: ClusterRole$/m.test(d))) throw new Error(`${DOC_BLOCKS.rbac}'s RBAC block has no ClusterRole`);
  if (!docs.some((d) => /^kind: Role$/m.test(d))) throw new Error(`${DOC_BLOCKS.rbac}'s RBAC block has no Role for the record`);
  return docs.filter((d) => /^kind: (ClusterRole|Role|ConfigMap)$/m.test(d)).join("\n---\n");
}

/** ServiceAccount NS/kvlog bound to the documented ClusterRole and Role. */
export function kvlogIdentity(ns: string): string {
  return `
apiVersion: v1
kind: ServiceAccount
metadata: { name: kvlog, namespace: ${ns} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kvlog-e2e-kvlog }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kvlog }
subjects: [{ kind: ServiceAccount, name: kvlog, namespace: ${ns} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: kvlog-e2e-kvlog, namespace: kube-system }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: kvlog }
subjects: [{ kind: ServiceAccount, name: kvlog, namespace: ${ns} }]
`;
}
