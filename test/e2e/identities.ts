// The least-privilege identity the e2e files act as: the README's RBAC (which is `kvlog rbac`'s
// output) bound to the ServiceAccount kvlog in the suite's namespace, as users are told to grant it.
import { readFileSync } from "node:fs";

/** The README's ClusterRole, Role (the record) and record ConfigMaps; its placeholder bindings left out. */
export function readmeRoles(): string {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const rbac = /<!-- rbac:begin -->\s*```yaml\n([\s\S]*?)```\s*<!-- rbac:end -->/.exec(readme)?.[1];
  if (rbac === undefined) throw new Error("README has no RBAC block");
  const docs = rbac.split(/^---$/m);
  if (!docs.some((d) => /^kind: ClusterRole$/m.test(d))) throw new Error("README's RBAC block has no ClusterRole");
  if (!docs.some((d) => /^kind: Role$/m.test(d))) throw new Error("README's RBAC block has no Role for the record");
  return docs.filter((d) => /^kind: (ClusterRole|Role|ConfigMap)$/m.test(d)).join("\n---\n");
}

/** ServiceAccount NS/kvlog bound to the README's ClusterRole and Role. */
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
