import { describe, expect, it } from "vitest";
import { parseArgs, parseDuration, parseLevel, run, type Io, type SetRequest } from "../../src/cli.js";
import { UsageError } from "../../src/errors.js";

function io(env: NodeJS.ProcessEnv = {}): Io & { out: string; err: string } {
  const o = { out: "", err: "" } as Io & { out: string; err: string };
  o.stdout = { write: (s: string) => (o.out += s), isTTY: false };
  o.stderr = { write: (s: string) => (o.err += s), isTTY: false };
  o.env = env;
  return o;
}

const parse = (...argv: string[]) => parseArgs(argv, io()) as SetRequest | undefined;

describe("parseLevel", () => {
  it.each([
    ["0", 0],
    ["4", 4],
    ["05", 5],
    ["2147483647", 2147483647],
  ])("accepts %s", (s, n) => expect(parseLevel(s)).toBe(n));

  it.each(["abc", "-1", "+3", "3\n", " 3", "", "1.5", "2147483648", "1e3"])("rejects %j", (s) => {
    expect(() => parseLevel(s)).toThrow(UsageError);
  });
});

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["1m30s", 90_000],
    ["500ms", 500],
    ["2", 2_000],
    ["1h", 3_600_000],
  ])("%s", (s, ms) => expect(parseDuration(s)).toBe(ms));
  it.each(["0", "0s", "abc", "10x", "s", "-1s", "2h"])("rejects %j", (s) => expect(() => parseDuration(s)).toThrow(UsageError));
});

describe("parseArgs", () => {
  it("resolves aliases and defaults", () => {
    const r = parse("set", "scheduler", "4")!;
    expect(r.component.name).toBe("kube-scheduler");
    expect(r.level).toBe(4);
    expect(r.output).toBe("table");
    expect(r.timeoutMs).toBe(30_000);
    expect(r.concurrency).toBe(32);
    expect(r.chunkSize).toBe(500);
    expect(r.includeNotReady).toBe(false);
    expect(r.nodes).toEqual([]);
    expect(r.dryRun).toBe(false);
    expect(r.color).toBe(true);
  });

  it.each([
    ["apiserver", "kube-apiserver"],
    ["kcm", "kube-controller-manager"],
    ["controller-manager", "kube-controller-manager"],
    ["ccm", "cloud-controller-manager"],
    ["proxy", "kube-proxy"],
    ["KUBELET", "kubelet"],
  ])("alias %s -> %s", (alias, name) => expect(parse("set", alias, "1")!.component.name).toBe(name));

  it("collects --node from repeats and commas, without duplicates", () => {
    const r = parse("set", "kubelet", "3", "--node", "a", "--node", "b,c", "--node", "a")!;
    expect(r.nodes).toEqual(["a", "b", "c"]);
  });

  it("reads every flag", () => {
    const r = parse(
      "set", "kube-proxy", "2", "--kubeconfig", "/k", "--context", "ctx", "-n", "ns", "-l", "role=w",
      "--pod-selector", "app=kp", "-o", "json", "--request-timeout", "5s", "--insecure-skip-tls-verify",
      "--dry-run", "--concurrency", "3", "--no-color", "--service-account", "kube-system/kvlog",
    )!;
    expect(r).toMatchObject({
      kubeconfig: "/k", context: "ctx", namespace: "ns", selector: "role=w", podSelector: "app=kp", output: "json",
      timeoutMs: 5000, insecureSkipTlsVerify: true, dryRun: true, concurrency: 3, color: false,
      serviceAccount: { namespace: "kube-system", name: "kvlog" },
    });
  });

  it("NO_COLOR turns colour off", () => {
    expect((parseArgs(["set", "kubelet", "1"], io({ NO_COLOR: "1" })) as SetRequest).color).toBe(false);
  });

  it("normalises --endpoint", () => {
    expect(parse("set", "scheduler", "1", "--endpoint", "https://10.0.0.5:10259")!.endpoint!.href).toBe("https://10.0.0.5:10259/");
  });

  it.each([
    [["set", "schedular", "4"], /unknown component "schedular"; did you mean kube-scheduler\?/],
    [["set", "kubelet", "abc"], /level must be a whole number/],
    [["set", "kubelet"], /missing level/],
    [["set"], /missing component/],
    [["sett", "kubelet", "1"], /unknown command 'sett'/],
    [["set", "kubelet", "1", "--bogus"], /unknown option '--bogus'/],
    [["set", "apiserver", "1", "--node", "a"], /--node applies to kubelet and kube-proxy/],
    [["set", "apiserver", "1", "-l", "a=b"], /does not apply to kube-apiserver/],
    [["set", "kubelet", "1", "-n", "x"], /-n\/--namespace does not apply to kubelet/],
    [["set", "scheduler", "1", "--pod-selector", "a=b"], /--pod-selector applies to kube-proxy only/],
    [["set", "scheduler", "1", "--direct"], /--direct applies to kubelet only/],
    [["set", "scheduler", "1", "--endpoint", "not a url"], /is not a URL/],
    [["set", "scheduler", "1", "--endpoint", "ftp://x"], /http:\/\/ or https:\/\//],
    [["set", "kubelet", "1", "--endpoint", "https://x:10250", "--node", "a"], /--endpoint names the one target/],
    [["set", "kubelet", "1", "--token", "t", "--token-file", "f"], /give only one/],
    [["set", "kubelet", "1", "--service-account", "nope"], /NAMESPACE\/NAME/],
    [["set", "kubelet", "1", "--concurrency", "0"], /--concurrency must be/],
    [["set", "kubelet", "1", "-o", "yaml"], /Allowed choices are table, json/],
    [["set", "kubelet", "1", "--request-timeout", "forever"], /--request-timeout must be a duration/],
    [["set", "kubelet", "1", "--node", ""], /--node "" has an empty node name/],
    [["set", "kubelet", "1", "--node", "a,,b"], /empty node name/],
    [["set", "proxy", "1", "--pod-selector", " "], /--pod-selector is empty/],
    [["set", "scheduler", "1", "-n", ""], /-n\/--namespace is empty/],
    [["set", "kubelet", "1", "-l", ""], /-l\/--selector is empty/],
    [["set", "scheduler", "1", "--endpoint", "https://u:p@10.0.0.5:10259"], /must not carry user:password/],
  ])("%j is a usage error", (argv, msg) => {
    expect(() => parse(...argv)).toThrow(msg);
    try {
      parse(...argv);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).not.toContain("\n");
    }
  });

  it("--help and --version are not errors", () => {
    const o = io();
    expect(parseArgs(["--version"], o)).toBeUndefined();
    expect(o.out).toBe("0.1.0\n");
    const h = io();
    expect(parseArgs(["set", "--help"], h)).toBeUndefined();
    expect(h.out).toContain("Usage: kvlog set [options] <component> <level>");
    expect(h.out).toContain("--request-timeout");
  });
});

describe("run: usage and configuration errors", () => {
  it.each([
    [["set", "kubelet", "abc"], 2, /^kvlog: level must be/],
    [["set", "kubelet", "3", "--kubeconfig", "/does/not/exist"], 2, /^kvlog: cannot read kubeconfig \/does\/not\/exist: file not found/],
  ])("%j exits %i with one line", async (argv, code, msg) => {
    const o = io();
    expect(await run(argv, o)).toBe(code);
    expect(o.err).toMatch(msg);
    expect(o.err.trim().split("\n")).toHaveLength(1);
    expect(o.out).toBe("");
  });

  it("no kubeconfig anywhere is a configuration error", async () => {
    const o = io({ HOME: "/nonexistent-home-for-kvlog" });
    expect(await run(["set", "kubelet", "3"], o)).toBe(2);
    expect(o.err).toMatch(/^kvlog: no kubeconfig found/);
  });

  it("--service-account without a kubeconfig cannot mint a token", async () => {
    const o = io({ HOME: "/nonexistent-home-for-kvlog" });
    expect(await run(["set", "scheduler", "3", "--endpoint", "https://127.0.0.1:1", "--service-account", "a/b"], o)).toBe(2);
    expect(o.err).toMatch(/^kvlog: --service-account mints its token through the apiserver, which needs a kubeconfig/);
  });

  it("warns on stderr above level 10", async () => {
    const o = io();
    await run(["set", "kubelet", "11", "--kubeconfig", "/does/not/exist"], o);
    expect(o.err).toMatch(/^warning: level 11 is above 10/);
  });
});

describe("the other commands parse into plain requests", () => {
  const any = (...argv: string[]) => parseArgs(argv, io()) as any;

  it("set --for / --restore-to / --no-record", () => {
    expect(any("set", "kubelet", "6", "--node", "n1", "--for", "10m")).toMatchObject({ command: "set", forMs: 600_000, restoreTo: undefined, record: true, nodes: ["n1"] });
    expect(any("set", "kubelet", "6", "--for", "1h30m", "--restore-to", "2", "--no-record")).toMatchObject({ forMs: 5_400_000, restoreTo: 2, record: false });
  });

  it("get, reset, reset --expired, status", () => {
    expect(any("get", "proxy", "--node", "a,b")).toMatchObject({ command: "get", component: { name: "kube-proxy" }, nodes: ["a", "b"] });
    expect(any("reset", "scheduler", "--to", "2", "--dry-run")).toMatchObject({ command: "reset", to: 2, dryRun: true, targets: { component: { name: "kube-scheduler" } } });
    const all = any("reset", "--expired");
    expect(all.expired.map((c: any) => c.name)).toEqual(["kube-apiserver", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager", "kubelet", "kube-proxy"]);
    expect(any("reset", "--expired", "kubelet").expired.map((c: any) => c.name)).toEqual(["kubelet"]);
    expect(any("status", "-o", "json")).toMatchObject({ command: "status", output: "json", components: expect.any(Array) });
    expect(any("status", "kcm").components.map((c: any) => c.name)).toEqual(["kube-controller-manager"]);
  });

  it.each([
    [["set", "kubelet", "5", "--for", "0"], /^kvlog: --for must be more than 0\n$/],
    [["set", "kubelet", "5", "--for", "banana"], /^kvlog: --for must be a duration like 10m, 1h or 90s, got "banana"\n$/],
    [["set", "kubelet", "5", "--for", "1000h"], /^kvlog: --for must be at most 24h, got "1000h"\n$/],
    [["set", "kubelet", "5", "--restore-to", "1"], /^kvlog: --restore-to applies with --for only/],
    [["reset"], /^kvlog: missing component; usage: kvlog reset <component>/],
    [["reset", "--expired", "--node", "x"], /^kvlog: --expired puts back what the record says is overdue: drop/],
    [["get"], /^kvlog: missing component; usage: kvlog get <component>/],
    [["status", "etcd"], /^kvlog: unknown component "etcd"/],
  ])("%j is one line and exit 2", async (argv, err) => {
    const o = io();
    expect(await run(argv, o)).toBe(2);
    expect(o.err).toMatch(err);
    expect(o.err.trim().split("\n")).toHaveLength(1);
    expect(o.out).toBe("");
  });

  it("--help lists every command; each command's help has examples", async () => {
    const o = io();
    expect(await run(["--help"], o)).toBe(0);
    for (const c of ["set", "get", "reset", "status", "rbac"]) expect(o.out).toMatch(new RegExp(`^  ${c} `, "m"));
    for (const c of ["get", "reset", "status"]) {
      const h = io();
      expect(await run([c, "--help"], h)).toBe(0);
      expect(h.out).toMatch(/Examples:\n  kvlog /);
      expect(h.out).toMatch(/Exit codes:/);
    }
  });
});
