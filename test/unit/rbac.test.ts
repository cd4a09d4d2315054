// kvlog rbac: what it prints, and that the documented RBAC (docs/rbac-and-security.md) is exactly its output.
import { describe, expect, it } from "vitest";
import { run, validateRbac, type Io } from "../../src/cli.js";
import { COMPONENTS, findComponent } from "../../src/components.js";
import { UsageError } from "../../src/errors.js";
import { rbacYaml } from "../../src/rbac.js";
import { docBlock } from "../docs-blocks.ts";

function io(): Io & { out: string; err: string } {
  const o = { out: "", err: "" } as Io & { out: string; err: string };
  o.stdout = { write: (s: string) => (o.out += s), isTTY: false };
  o.stderr = { write: (s: string) => (o.err += s), isTTY: false };
  o.env = {};
  return o;
}

describe("kvlog rbac", () => {
  it("the RBAC block of docs/rbac-and-security.md is exactly `kvlog rbac`", async () => {
    const block = docBlock("rbac");
    const o = io();
    expect(await run(["rbac"], o)).toBe(0);
    expect(o.err).toBe("");
    expect(block).toBe(o.out);
  });

  it("only the rules the chosen components need, bound to the subject given", () => {
    const yaml = rbacYaml([findComponent("kubelet")!], { kind: "ServiceAccount", namespace: "ops", name: "kvlog" }, "kvlog-kubelet");
    expect(yaml).toContain('resources: ["nodes/proxy"]\n    verbs: ["get", "update"]');
    expect(yaml).toContain('resources: ["nodes"]\n    verbs: ["get", "list"]');
    expect(yaml).not.toMatch(/nonResourceURLs|pods|endpoints/);
    expect(yaml).toMatch(/kind: ClusterRoleBinding\n[\s\S]*subjects:\n  - kind: ServiceAccount\n    name: kvlog\n    namespace: ops\n---/);
    // The record: only the kubelet's ConfigMap, read and updated by name, created by the YAML itself.
    expect(yaml).toContain('kind: Role\nmetadata:\n  name: kvlog-kubelet\n  namespace: kube-system\n');
    expect(yaml).toContain('    resources: ["configmaps"]\n    resourceNames:\n      - kvlog-kubelet\n    verbs: ["get", "update"]');
    expect(yaml).not.toMatch(/"create"/);
    expect(yaml).toMatch(/kind: RoleBinding\n[\s\S]*subjects:\n  - kind: ServiceAccount\n    name: kvlog\n    namespace: ops\n---/);
    expect(yaml).toMatch(/---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kvlog-kubelet\n  namespace: kube-system\n[\s\S]*\n$/);
    expect(yaml.match(/kind: ConfigMap/g)).toHaveLength(1);
    expect(yaml).toMatch(/^apiVersion: rbac.authorization.k8s.io\/v1\nkind: ClusterRole\nmetadata:\n  name: kvlog-kubelet\n/);
    const apiserver = rbacYaml([findComponent("apiserver")!], { kind: "User", name: "alice@example.com" });
    expect(apiserver).toContain('  - nonResourceURLs: ["/debug/flags/v"]\n    verbs: ["get", "put"]');
    expect(apiserver).toContain('  - nonResourceURLs: ["/flagz"]\n    verbs: ["get"]');
    expect(apiserver).toContain('resourceNames: ["kubernetes"]');
    expect(apiserver).not.toMatch(/nodes|pods|kvlog-kubelet/);
    expect(apiserver).toContain('  - kind: User\n    name: "alice@example.com"\n    apiGroup: rbac.authorization.k8s.io');
  });

  it("every comment line fits in 100 columns and nodes/proxy carries its warning", () => {
    const yaml = rbacYaml([...COMPONENTS], undefined);
    for (const line of yaml.split("\n")) expect(line.length, line).toBeLessThanOrEqual(100);
    expect(yaml.replace(/\n\s*# /g, " ")).toMatch(/nodes\/proxy also reaches the kubelet's exec and run paths/);
  });

  it("bad flags are one UsageError line", async () => {
    expect(() => validateRbac({ components: "kubelet,shceduler", name: "kvlog" })).toThrow(/unknown component "shceduler" in --components; did you mean kube-scheduler\?/);
    expect(() => validateRbac({ components: ",", name: "kvlog" })).toThrow(UsageError);
    expect(() => validateRbac({ user: "a", group: "b", name: "kvlog" })).toThrow(/give only one/);
    expect(() => validateRbac({ serviceAccount: "nope", name: "kvlog" })).toThrow(/--service-account must be NAMESPACE\/NAME/);
    expect(() => validateRbac({ name: "Bad Name" })).toThrow(/not a valid ClusterRole name/);
    expect(validateRbac({ components: "proxy,kubelet,kubelet", name: "kvlog" }).components.map((c) => c.name)).toEqual(["kubelet", "kube-proxy"]);
    const o = io();
    expect(await run(["rbac", "--components", "etcd"], o)).toBe(2);
    expect(o.err).toMatch(/^kvlog: unknown component "etcd" in --components/);
    expect(o.out).toBe("");
  });
});
