// readList: an API list read item by item as it streams, at every possible chunk boundary.
import { describe, expect, it } from "vitest";
import { ListFormatError, readList } from "../../src/lists.js";

async function* chunks(text: string, sizes: number | number[]): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text, "utf8");
  let i = 0;
  let k = 0;
  while (i < buf.length) {
    const n = Array.isArray(sizes) ? sizes[k++ % sizes.length]! : sizes;
    yield buf.subarray(i, i + n);
    i += n;
  }
}

const tricky = {
  kind: "NodeList",
  apiVersion: "v1",
  metadata: { resourceVersion: "123", continue: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzLCJzdGFydCI6Im4tMVx1MDAwMCJ9" },
  items: [
    { metadata: { name: "n-0", annotations: { quote: 'a "quoted" value', backslash: "C:\\path\\", both: '\\"', brace: "}{][,:" } } },
    { metadata: { name: "n-1", labels: { "ünïcödé": "日本語 ✓", emoji: "🚀" } }, status: { capacity: { cpu: 4 }, flag: true, none: null, n: -1.5e3 } },
    { metadata: { name: "n-2" }, status: { images: [{ names: ["a@sha256:00", "a:1"], sizeBytes: 1 }] } },
    { metadata: { name: "n-3" }, 'esc"aped': { x: 1 }, "back\\slash": [1, "]"], "\\": "kept" },
  ],
};

/** What pruning must give: the value with every field named in `names` (at any depth) set to null. */
function pruned(v: any, names: Set<string>): any {
  if (Array.isArray(v)) return v.map((x) => pruned(x, names));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, names.has(k) ? null : pruned(x, names)]));
  return v;
}

describe("readList", () => {
  it("gives the same items and metadata as JSON.parse, at every chunk boundary", async () => {
    for (const text of [JSON.stringify(tricky), JSON.stringify(tricky, null, 2)]) {
      const want = JSON.parse(text);
      for (let size = 1; size <= 40; size++) {
        const got = await readList(chunks(text, size), (x) => x);
        expect(got.items).toEqual(want.items);
        expect(got.meta).toEqual({ kind: "NodeList", apiVersion: "v1", metadata: want.metadata });
      }
      const uneven = await readList(chunks(text, [3, 1, 7, 2, 64, 5]), (x) => x);
      expect(uneven.items).toEqual(want.items);
    }
  });

  it("hands each item to reduce as soon as it is complete, and keeps only what reduce returns", async () => {
    const seen: string[] = [];
    const got = await readList(chunks(JSON.stringify(tricky), 17), (x) => {
      const name = (x as { metadata: { name: string } }).metadata.name;
      seen.push(name);
      return name;
    });
    expect(seen).toEqual(["n-0", "n-1", "n-2", "n-3"]);
    expect(got.items).toEqual(["n-0", "n-1", "n-2", "n-3"]);
  });

  it("items after metadata or before it, empty, or null", async () => {
    const after = await readList(chunks('{"items":[{"a":1}],"metadata":{"continue":"x"}}', 5), (x) => x);
    expect(after).toEqual({ items: [{ a: 1 }], meta: { metadata: { continue: "x" } } });
    expect(await readList(chunks('{"kind":"PodList","items":[]}', 4), (x) => x)).toEqual({ items: [], meta: { kind: "PodList" } });
    expect(await readList(chunks('{"kind":"PodList","items":null}', 4), (x) => x)).toEqual({ items: [], meta: { kind: "PodList", items: null } });
    expect(await readList(chunks("{}", 1), (x) => x)).toEqual({ items: [], meta: {} });
    expect(await readList(chunks('{"a":1,"b":true,"c":"s"}', 1), (x) => x)).toEqual({ items: [], meta: { a: 1, b: true, c: "s" } });
  });

  it("random lists, random chunks: always what JSON.parse says", async () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const str = (): string => Array.from({ length: rnd(12) }, () => ['"', "\\", "}", "]", "a", "é", "\n", "{", ",", ":"][rnd(10)]).join("");
    const value = (d: number): unknown => {
      switch (d > 3 ? rnd(4) : rnd(6)) {
        case 0: return str();
        case 1: return rnd(1000) - 500;
        case 2: return [true, false, null][rnd(3)];
        case 3: return 1.25;
        case 4: return Array.from({ length: rnd(4) }, () => value(d + 1));
        default: return Object.fromEntries(Array.from({ length: rnd(4) }, () => [str(), value(d + 1)]));
      }
    };
    for (let n = 0; n < 200; n++) {
      const list = { metadata: { continue: str() }, items: Array.from({ length: rnd(5) }, () => value(0)) };
      const text = JSON.stringify(list, null, rnd(2) ? 1 : 0);
      const got = await readList(chunks(text, [1 + rnd(9), 1 + rnd(30)]), (x) => x);
      expect(got.items).toEqual(list.items);
      expect(got.meta.metadata).toEqual(list.metadata);
    }
  });

  it("drops the fields it is told to prune, at any depth of an item, as null, and nothing else", async () => {
    const text = JSON.stringify(tricky, null, 1);
    const prune = ["annotations", "images", "none", "flag", "cpu", 'esc"aped', "back\\slash"];
    const want = pruned(JSON.parse(text).items, new Set(prune));
    expect(want[0].metadata.annotations).toBeNull();
    expect(want[3]).toEqual({ metadata: { name: "n-3" }, 'esc"aped': null, "back\\slash": null, "\\": "kept" });
    for (let size = 1; size <= 30; size++) {
      const got = await readList(chunks(text, size), (x) => x, { prune });
      expect(got.items).toEqual(want);
      expect(got.meta.metadata).toEqual(tricky.metadata); // never pruned outside items
    }
  });

  it("random lists, random prune sets, random chunks: always JSON.parse with those fields null", async () => {
    let seed = 11;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const keys = ["a", "b", 'q"x', "s\\t", "images", "}"];
    const value = (d: number): unknown => {
      switch (d > 3 ? rnd(4) : rnd(6)) {
        case 0: return ['x"y', "\\", "]}", "é"][rnd(4)];
        case 1: return rnd(100) - 50;
        case 2: return [true, false, null][rnd(3)];
        case 3: return -0.5e-3;
        case 4: return Array.from({ length: rnd(4) }, () => value(d + 1));
        default: return Object.fromEntries(Array.from({ length: rnd(4) }, () => [keys[rnd(keys.length)]!, value(d + 1)]));
      }
    };
    for (let n = 0; n < 300; n++) {
      const list = { items: Array.from({ length: 1 + rnd(4) }, () => value(0)) };
      const prune = keys.filter(() => rnd(2) === 0);
      const text = JSON.stringify(list, null, rnd(2) ? 2 : 0);
      const got = await readList(chunks(text, [1 + rnd(5), 1 + rnd(20)]), (x) => x, { prune });
      expect(got.items).toEqual(pruned(list.items, new Set(prune)));
    }
  });

  it("refuses what is not a whole JSON list, in one line", async () => {
    const bad: [string, RegExp][] = [
      ["<html>hello</html>", /not a JSON object/],
      ['{"items":[{"a":1}', /ended early/],
      ['{"items":[{"a":1}]', /ended early/],
      ['{"items":[{"a":1} {"b":2}]}', /expected ',' or '\]' between items/],
      ['{"items":[{"a":tru}]}', /malformed JSON/],
      ['{"items":[]} trailing', /data after its end/],
      ['{items:[]}', /expected a field name/],
      ["", /ended early/],
    ];
    for (const [text, re] of bad) {
      const e = await readList(chunks(text, 3), (x) => x).catch((x: unknown) => x);
      expect(e, text).toBeInstanceOf(ListFormatError);
      expect((e as Error).message, text).toMatch(re);
      expect((e as Error).message).not.toContain("\n");
    }
  });

  it("refuses an item larger than the bound", async () => {
    const text = JSON.stringify({ items: [{ big: "x".repeat(5000) }] });
    await expect(readList(chunks(text, 100), (x) => x, { maxItemBytes: 4096 })).rejects.toThrow(/an item of the list is larger than/);
  });
});
