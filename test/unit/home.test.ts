import * as fs from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { homeKubeconfig } from "../../src/home.js";

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
