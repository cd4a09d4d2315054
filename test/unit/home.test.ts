import * as fs from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { homeKubeconfig, loadKubeconfig } from "../../src/home.js";

// kubectl's rule (client-go homedir.HomeDir): HOME on Linux and macOS; on Windows the first of
// %HOME%, %HOMEDRIVE%%HOMEPATH%, %USERPROFILE% that has .kube/config.
describe("homeKubeconfig", () => {
  let dir: string;
  const withConfig = (name: string): string => {
    const home = join(dir, name);
    fs.mkdirSync(join(home, ".kube"), { recursive: true });
    fs.writeFileSync(join(home, ".kube", "config"), "apiVersion: v1\nkind: Config\n");
    return home;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(join(os.tmpdir(), "kvlog-home-"));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("on Windows finds %USERPROFILE%\\.kube\\config when HOME is not set", () => {
    const profile = withConfig("profile");
    expect(homeKubeconfig({ USERPROFILE: profile }, "win32")).toBe(join(profile, ".kube", "config"));
  });

  it("on Windows prefers HOME, then HOMEDRIVE+HOMEPATH, then USERPROFILE, skipping homes without a config", () => {
    const home = withConfig("home");
    const drivePath = withConfig("drive-path");
    const profile = withConfig("profile");
    const empty = join(dir, "empty");
    fs.mkdirSync(empty);
    expect(homeKubeconfig({ HOME: home, HOMEDRIVE: "", HOMEPATH: drivePath, USERPROFILE: profile }, "win32")).toBe(join(home, ".kube", "config"));
    expect(homeKubeconfig({ HOME: empty, HOMEDRIVE: drivePath.slice(0, 1), HOMEPATH: drivePath.slice(1), USERPROFILE: profile }, "win32")).toBe(
      join(drivePath, ".kube", "config"),
    );
    expect(homeKubeconfig({ HOME: empty, USERPROFILE: profile }, "win32")).toBe(join(profile, ".kube", "config"));
    expect(homeKubeconfig({ HOME: empty, USERPROFILE: empty }, "win32")).toBeUndefined();
  });

  it("on Linux and macOS reads HOME only", () => {
    const profile = withConfig("profile");
    const home = withConfig("home");
    expect(homeKubeconfig({ USERPROFILE: profile }, "linux")).toBeUndefined();
    expect(homeKubeconfig({ HOME: home, USERPROFILE: profile }, "darwin")).toBe(join(home, ".kube", "config"));
  });
});

// The one loader of kubeconfig files (loadAccess, several contexts, completion).
describe("loadKubeconfig", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(join(os.tmpdir(), "kvlog-home-"));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, contexts: string[], current = ""): string => {
    const f = join(dir, name);
    const body = [
      "apiVersion: v1",
      "kind: Config",
      `current-context: "${current}"`,
      "clusters:",
      ...contexts.map((c) => `- name: ${c}\n  cluster:\n    server: https://${c}.example:6443\n    certificate-authority: ca-${c}.crt`),
      "users:",
      ...contexts.map((c) => `- name: ${c}\n  user:\n    token: t-${name}`),
      "contexts:",
      ...contexts.map((c) => `- name: ${c}\n  context:\n    cluster: ${c}\n    user: ${c}`),
    ].join("\n");
    fs.writeFileSync(f, body);
    return f;
  };

  it("merges as kubectl: the first file to name a context or set current-context wins; paths are relative to each file", async () => {
    const a = file("a.yaml", ["dev", "prod"]);
    const b = file("b.yaml", ["prod", "test"], "test");
    const kc = await loadKubeconfig([a, b]);
    expect(kc.getContexts().map((c) => c.name)).toEqual(["dev", "prod", "test"]);
    expect(kc.getCurrentContext()).toBe("test");
    expect(kc.getUser("prod")?.token).toBe("t-a.yaml");
    expect(kc.getCluster("dev")?.caFile).toBe(join(dir, "ca-dev.crt"));
  });

  it("a file that cannot be read: one line naming it and the next step, or skipped for completion", async () => {
    const a = file("a.yaml", ["dev"]);
    const missing = join(dir, "missing.yaml");
    const broken = join(dir, "broken.yaml");
    fs.writeFileSync(broken, "clusters: [unclosed\n");
    await expect(loadKubeconfig([a, missing])).rejects.toThrow(`cannot read kubeconfig ${missing}: file not found; check the path, or pass --kubeconfig`);
    await expect(loadKubeconfig([broken])).rejects.toThrow(new RegExp(`^cannot parse kubeconfig ${broken.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}: [^\\n]+; fix the file or pass another --kubeconfig$`));
    await expect(loadKubeconfig([dir])).rejects.toThrow(`cannot read kubeconfig ${dir}: EISDIR; check the file's permissions or pass another --kubeconfig`);
    const kc = await loadKubeconfig([missing, broken, a], { skipUnreadable: true });
    expect(kc.getContexts().map((c) => c.name)).toEqual(["dev"]);
  });
});
