// The record: pure edits, and the optimistic-concurrency loop against an in-memory ConfigMap store
// that answers 409 on a stale resourceVersion, as the apiserver does.
import { describe, expect, it } from "vitest";
import type { ConfigMap, RecordApi } from "../../src/objects.js";
import { verbosityFlag } from "../../src/levels.js";
import { formatDuration, parseDuration } from "../../src/options.js";
import { editRecord, isTargetId, newChangeId, overridesIn, parseRecord, readRecord, updateRecord, type Change } from "../../src/record.js";

const change = (level: number, targets: string[], extra: Partial<Change> = {}): Change => ({
  level,
  by: "alice",
  at: "2026-11-29T10:00:00.000Z",
  targets: Object.fromEntries(targets.map((t) => [t, { before: 1, startup: 1 }])),
  ...extra,
});

describe("editRecord", () => {
  it("a new change takes its targets out of older ones, and drops a change left empty", () => {
    let data = editRecord({}, { add: { id: "c1", change: change(5, ["kubelet/a", "kubelet/b"]) } });
    data = editRecord(data, { add: { id: "c2", change: change(6, ["kubelet/b"], { by: "bob" }) } });
    expect(overridesIn("kubelet", data).map((o) => [o.target, o.level, o.by, o.change])).toEqual([
      ["kubelet/a", 5, "alice", "c1"],
      ["kubelet/b", 6, "bob", "c2"],
    ]);
    data = editRecord(data, { add: { id: "c3", change: change(7, ["kubelet/a"]) } });
    expect(Object.keys(data).sort()).toEqual(["c2", "c3"]);
  });

  it("remove: from every change, or only from one (a restore leaves a newer change alone)", () => {
    const data = { c1: JSON.stringify(change(5, ["kubelet/a"])), c2: JSON.stringify(change(6, ["kubelet/b"])) };
    expect(editRecord(data, { remove: new Set(["kubelet/a", "kubelet/b"]) })).toEqual({});
    expect(Object.keys(editRecord(data, { remove: new Set(["kubelet/a", "kubelet/b"]), removeFrom: "c2" }))).toEqual(["c1"]);
  });

  it("keeps entries it cannot read, and skips them when listing", () => {
    const data = { junk: "not json", c1: JSON.stringify(change(5, ["kubelet/a"])) };
    expect(editRecord(data, { remove: new Set(["kubelet/a"]) })).toEqual({ junk: "not json" });
    expect(overridesIn("kubelet", data)).toHaveLength(1);
  });

  it("change ids are valid ConfigMap keys and sort by time", () => {
    const a = newChangeId(new Date("2026-11-29T10:00:00.123Z"));
    const b = newChangeId(new Date("2026-11-29T10:00:01.000Z"));
    expect(a).toMatch(/^20261129T100000Z-[0-9a-f]{1,6}$/);
    expect(a < b).toBe(true);
  });
});

/** ConfigMaps in memory with the apiserver's optimistic concurrency; `race` writes in between a read and a write. */
function store(): RecordApi & { cms: Map<string, ConfigMap>; writes: number; conflicts: number; race?: () => void } {
  let rv = 100;
  const s = {
    cms: new Map<string, ConfigMap>(),
    writes: 0,
    conflicts: 0,
    race: undefined as (() => void) | undefined,
    async whoami() {
      return "alice";
    },
    async getConfigMap(ns: string, name: string) {
      const cm = s.cms.get(`${ns}/${name}`);
      const copy = cm ? (structuredClone(cm) as ConfigMap) : undefined;
      const race = s.race;
      s.race = undefined;
      race?.();
      return copy;
    },
    async writeConfigMap(cm: ConfigMap): Promise<ConfigMap | "conflict"> {
      const key = `${cm.metadata.namespace}/${cm.metadata.name}`;
      const now = s.cms.get(key);
      if ((cm.metadata.resourceVersion === undefined) !== (now === undefined) || (now && now.metadata.resourceVersion !== cm.metadata.resourceVersion)) {
        s.conflicts++;
        return "conflict";
      }
      s.writes++;
      const stored = { ...structuredClone(cm), metadata: { ...cm.metadata, resourceVersion: String(++rv) } } as ConfigMap;
      s.cms.set(key, stored);
      return stored;
    },
  };
  return s;
}

describe("updateRecord", () => {
  it("creates the ConfigMap with kvlog's labels the first time", async () => {
    const api = store();
    await updateRecord(api, "kubelet", (d) => editRecord(d, { add: { id: "c1", change: change(5, ["kubelet/a"]) } }));
    const cm = api.cms.get("kube-system/kvlog-kubelet")!;
    expect(cm.metadata.labels).toEqual({ "app.kubernetes.io/managed-by": "kvlog", "kvlog.dev/component": "kubelet" });
    expect((await readRecord(api, "kubelet")).map((o) => o.target)).toEqual(["kubelet/a"]);
  });

  it("a write that lost the race (409) reads again and redoes its edit: neither change is lost", async () => {
    const api = store();
    await updateRecord(api, "kubelet", (d) => editRecord(d, { add: { id: "c0", change: change(2, ["kubelet/z"]) } }));
    // Between our read and our write, another kvlog records its change.
    api.race = () => void updateRecord(api, "kubelet", (d) => editRecord(d, { add: { id: "other", change: change(6, ["kubelet/b"], { by: "bob" }) } }));
    await updateRecord(api, "kubelet", (d) => editRecord(d, { add: { id: "mine", change: change(5, ["kubelet/a"]) } }));
    expect(api.conflicts).toBe(1);
    expect((await readRecord(api, "kubelet")).map((o) => [o.target, o.by])).toEqual([
      ["kubelet/a", "alice"],
      ["kubelet/b", "bob"],
      ["kubelet/z", "alice"],
    ]);
  });

  it("two creators at once: the second's create conflicts, then it updates", async () => {
    const api = store();
    api.race = () => void updateRecord(api, "kube-proxy", (d) => editRecord(d, { add: { id: "first", change: change(3, ["kube-proxy/kube-system/p1"]) } }));
    await updateRecord(api, "kube-proxy", (d) => editRecord(d, { add: { id: "second", change: change(4, ["kube-proxy/kube-system/p2"]) } }));
    expect((await readRecord(api, "kube-proxy")).map((o) => o.change)).toEqual(["first", "second"]);
  });

  it("nothing to change, nothing written; a record too big for a ConfigMap is refused, not truncated", async () => {
    const api = store();
    await updateRecord(api, "kubelet", (d) => editRecord(d, { remove: new Set(["kubelet/a"]) }));
    expect(api.writes).toBe(0);
    const many = Array.from({ length: 20_000 }, (_, i) => `kubelet/node-with-a-long-name-${String(i).padStart(6, "0")}`);
    await expect(updateRecord(api, "kubelet", (d) => editRecord(d, { add: { id: "big", change: change(5, many) } }))).rejects.toThrow(
      new RegExp(`more than a ConfigMap can \\(1 MiB\\); the change is not recorded`),
    );
    expect(api.writes, "refused, not truncated: nothing was written").toBe(0);
  });

  it("gives up with one clear error when every write conflicts", async () => {
    const api = store();
    api.writeConfigMap = async () => "conflict";
    await expect(updateRecord(api, "kubelet", (d) => editRecord(d, { add: { id: "c", change: change(5, ["kubelet/a"]) } }))).rejects.toThrow(/kept changing while kvlog wrote it \(8 conflicts\)/);
  });
});

describe("startup levels and durations", () => {
  it.each([
    [["kube-scheduler", "--v=3"], 3],
    [["x", "-v=2", "--v=4"], 4],
    [["x", "--v", "5"], 5],
    [["x", "-v", "6"], 6],
    [["x", "--vmodule=a=3"], undefined],
    [["x", "--v=high"], undefined],
    [["x"], undefined],
  ])("verbosityFlag(%j) = %s", (args, v) => expect(verbosityFlag(args)).toBe(v));

  it("--for takes kubectl durations up to 24h, and says which flag was wrong", () => {
    expect(parseDuration("10m", "--for", 86_400_000)).toBe(600_000);
    expect(() => parseDuration("0", "--for", 86_400_000)).toThrow(/^--for must be more than 0$/);
    expect(() => parseDuration("banana", "--for", 86_400_000, "10m")).toThrow(/^--for must be a duration like 10m, got "banana"$/);
    expect(() => parseDuration("1000h", "--for", 86_400_000)).toThrow(/^--for must be at most 24h, got "1000h"$/);
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(61_000)).toBe("1m1s");
    expect(formatDuration(0)).toBe("0s");
  });
});

describe("parseRecord: the record is input", () => {
  const at = "2026-11-29T10:00:00.000Z";
  const rec = (c: object) => ({ c1: JSON.stringify({ level: 5, by: "alice", at, ...c }) });
  it("startup levels outside 0-10 and prior levels that are not levels are unknown, and said so", () => {
    for (const bad of [11, 2147483647, -1, 2.5, "3", null]) {
      const { overrides, rejected } = parseRecord("kube-proxy", rec({ targets: { "kube-proxy/kube-system/p": { startup: bad } } }));
      expect([bad, overrides[0]?.startup]).toEqual([bad, null]);
      expect(rejected.join()).toMatch(/startup level of 1 target\(s\) is not one kvlog records/);
    }
    for (const bad of [2147483648, -1, 2.5, "3", null]) {
      const { overrides, rejected } = parseRecord("kube-proxy", rec({ targets: { "kube-proxy/kube-system/p": { before: bad } } }));
      expect([bad, overrides[0]?.before]).toEqual([bad, null]);
      expect(rejected.join()).toMatch(/prior level of 1 target\(s\) is not a level/);
    }
    // kvlog's own records: a prior level above 10 is ordinary (set 12, then set 3) and raises no doubt.
    const own = parseRecord("kube-proxy", rec({ targets: { "kube-proxy/kube-system/p": { startup: 10, before: 12 } } }));
    expect([own.overrides[0]?.startup, own.overrides[0]?.before, own.rejected]).toEqual([10, 12, []]);
  });
  it("a change dated in the future (past an hour of clock skew) is left out: it would never be overdue", () => {
    const now = Date.parse(at);
    expect(parseRecord("kubelet", rec({ targets: { "kubelet/a": {} } }), now - 30 * 60_000).overrides).toHaveLength(1);
    const r = parseRecord("kubelet", rec({ at: "9999-01-01T00:00:00.000Z", targets: { "kubelet/a": {} } }), now);
    expect([r.overrides, r.rejected.length]).toEqual([[], 1]);
  });
  it("a change with a level or time kvlog never writes is left out; an until beyond 24h is taken as 24h", () => {
    for (const c of [{ level: -1 }, { level: 2147483648 }, { level: 1.5 }, { at: "yesterday" }]) {
      const r = parseRecord("kubelet", rec({ ...c, targets: { "kubelet/a": {} } }));
      expect([c, r.overrides]).toEqual([c, []]);
      expect(r.rejected[0]).toMatch(/is not one kvlog writes/);
    }
    const far = parseRecord("kubelet", rec({ until: "2999-01-01T00:00:00.000Z", targets: { "kubelet/a": {} } }));
    expect(far.overrides[0]!.until).toBe("2026-11-30T10:00:00.000Z");
    const before = parseRecord("kubelet", rec({ until: "2026-11-29T09:00:00.000Z", targets: { "kubelet/a": {} } }));
    expect(before.overrides[0]!.until).toBe(at);
    expect(parseRecord("kubelet", rec({ until: "soon", targets: { "kubelet/a": {} } })).overrides[0]!.until).toBe("2026-11-30T10:00:00.000Z");
    expect(parseRecord("kubelet", rec({ until: at, targets: { "kubelet/a": {} } })).rejected).toEqual([]);
    expect(parseRecord("kubelet", rec({ until: "2026-11-29T10:10:00.000Z", targets: { "kubelet/a": {} } })).overrides[0]!.until).toBe("2026-11-29T10:10:00.000Z");
  });
  it("target names are the ones kvlog gives, of this component", () => {
    const good = ["kubelet/node-a", "kubelet/ip-10-0-0-1.ec2.internal"];
    const addr = ["kube-apiserver/10.0.0.1:6443", "kube-apiserver/[fd00::1]:6443", "kube-apiserver/kube-system/kube-apiserver-cp-1"];
    for (const id of good) expect(isTargetId("kubelet", id)).toBe(true);
    for (const id of addr) expect(isTargetId("kube-apiserver", id)).toBe(true);
    for (const id of ["kubelet/..", "kubelet/../x", "kubelet/a/../b", "kubelet/A", "kubelet/a b", "kubelet/a%2f", "kube-proxy/a", "kubelet/", "kubelet/a\nb", "kubelet/a/b/c"]) {
      expect([id, isTargetId("kubelet", id)]).toEqual([id, false]);
    }
  });
});
