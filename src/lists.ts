// Reads an API list answer ({"kind":"NodeList","metadata":{…},"items":[…]}) as it streams
// in, item by item: each item's bytes are parsed on their own and reduced at once to the few
// fields kvlog uses, so memory holds one item (a node is 10–20 KB), never a whole page or list.
// Fields that kvlog never reads (a node's images and managedFields are most of its bytes) are
// dropped while scanning, before any parse: they are replaced by null and never allocated.
// Parsing whole 8 MB pages made V8 grow its heap by ~200 MB on a 5,000-node cluster.

/** The answer is not a JSON object, or is cut short or malformed. */
export class ListFormatError extends Error {
  override name = "ListFormatError";
}

export interface ListPage<R> {
  items: R[];
  /** The list's own fields other than items (metadata with continue and resourceVersion, kind). */
  meta: { kind?: string; metadata?: { continue?: string; resourceVersion?: string } };
}

/** An item larger than this is refused: etcd stores at most 1.5 MiB per object by default. */
export const MAX_ITEM_BYTES = 16 * 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const NULL = Buffer.from("null");

const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** A field name from its raw bytes between the quotes (escapes decoded). */
function fieldName(raw: Buffer): string {
  const text = raw.toString("utf8");
  if (!text.includes("\\")) return text;
  try {
    return JSON.parse(`"${text}"`) as string;
  } catch {
    return "";
  }
}

/**
 * One JSON value captured from a stream of chunks: its bytes (without the fields named in
 * `prune`, whose values become null), ready for JSON.parse when `feed` says it is complete.
 */
class Capture {
  private parts: Buffer[] = [];
  private size = 0;
  /** Open containers, innermost last (OPEN_OBJ or OPEN_ARR). */
  private stack: number[] = [];
  private inString = false;
  private escaped = false;
  /** The value itself is a bare scalar (number, true, false, null): it ends at , } ] or space. */
  readonly bareScalar: boolean;
  /** Inside an object, where the next string is a field name. */
  private keyNext = false;
  private inKey = false;
  /** Where the field name being read starts in the current chunk. */
  private keyStart = 0;
  /** Its bytes from earlier chunks, when it spans chunks. */
  private keyParts: Buffer[] | undefined;
  private keyEscaped = false;
  private lastKey = "";
  /** Dropping a pruned field's value that starts at this stack depth; -1 when not dropping. */
  private skipDepth = -1;
  private skipBegun = false;
  private skipScalar = false;

  private readonly prune: ReadonlySet<string>;
  /** Byte lengths of the pruned names: a field name of another length is never made a string. */
  private readonly pruneLengths: ReadonlySet<number>;
  private readonly max: number;

  constructor(first: number, prune: ReadonlySet<string>, max: number) {
    this.prune = prune;
    this.pruneLengths = new Set([...prune].map((n) => Buffer.byteLength(n)));
    this.max = max;
    if (first === QUOTE) this.inString = true;
    else if (first === OPEN_OBJ || first === OPEN_ARR) {
      this.stack.push(first);
      this.keyNext = first === OPEN_OBJ;
    }
    this.bareScalar = first !== QUOTE && first !== OPEN_OBJ && first !== OPEN_ARR;
  }

  private keep(piece: Buffer): void {
    this.size += piece.length;
    if (this.size > this.max) throw new ListFormatError(`an item of the list is larger than ${this.max / 1024 / 1024} MiB`);
    this.parts.push(piece);
  }

  /**
   * Reads `chunk` from `i`; the value's bytes in this chunk start at `start` (its first byte, or 0
   * for a later chunk). Returns the index just after the value, or -1 when the chunk ended first.
   */
  feed(chunk: Buffer, start: number, i: number): number {
    const skipping = (): boolean => this.skipDepth >= 0;
    let from = skipping() ? -1 : start; // where the bytes being kept start in this chunk
    let nextBackslash = -1; // the next backslash at or after i, once looked up (chunk.length: none)
    const cut = (end: number): void => {
      if (from >= 0 && end > from) this.keep(chunk.subarray(from, end));
      from = -1;
    };
    const skipEnded = (at: number): void => {
      this.skipDepth = -1;
      this.skipScalar = false;
      from = at;
    };
    while (i < chunk.length) {
      if (this.inString) {
        // Jump to the closing quote; nothing is allocated for the string's bytes.
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        if (nextBackslash < i) {
          const f = chunk.indexOf(BACKSLASH, i);
          nextBackslash = f < 0 ? chunk.length : f;
        }
        const q = chunk.indexOf(QUOTE, i);
        if (nextBackslash < (q < 0 ? chunk.length : q)) {
          if (this.inKey) this.keyEscaped = true;
          i = nextBackslash + 1;
          this.escaped = true;
          continue;
        }
        if (q < 0) {
          i = chunk.length;
          continue;
        }
        i = q + 1;
        this.inString = false;
        if (this.inKey) {
          this.inKey = false;
          this.lastKey = this.fieldName(chunk, q);
        }
        if (skipping() && this.stack.length === this.skipDepth) skipEnded(i);
        if (this.stack.length === 0 && !skipping()) {
          cut(i);
          return i;
        }
        continue;
      }
      const b = chunk[i]!;
      if (this.bareScalar || this.skipScalar) {
        if (b === COMMA || b === CLOSE_OBJ || b === CLOSE_ARR || isSpace(b)) {
          if (this.bareScalar) {
            cut(i);
            return i;
          }
          skipEnded(i); // the terminator is structure: read it again below
          continue;
        }
        i++;
        continue;
      }
      if (skipping() && !this.skipBegun) {
        // The first byte of a dropped value tells how it ends.
        if (!isSpace(b)) {
          this.skipBegun = true;
          if (b === QUOTE) this.inString = true;
          else if (b === OPEN_OBJ || b === OPEN_ARR) this.stack.push(b);
          else this.skipScalar = true;
          if (this.skipScalar) continue;
        }
        i++;
        continue;
      }
      i++;
      if (b === QUOTE) {
        this.inString = true;
        if (this.keyNext && !skipping()) {
          this.inKey = true;
          this.keyStart = i;
        }
        this.keyNext = false;
      } else if (b === OPEN_OBJ || b === OPEN_ARR) {
        this.stack.push(b);
        this.keyNext = b === OPEN_OBJ;
      } else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
        this.stack.pop();
        this.keyNext = false;
        if (skipping() && this.stack.length === this.skipDepth) skipEnded(i);
        if (this.stack.length === 0 && !skipping()) {
          cut(i);
          return i;
        }
      } else if (b === COMMA) {
        this.keyNext = this.stack.at(-1) === OPEN_OBJ;
      } else if (b === COLON) {
        if (!skipping() && this.prune.has(this.lastKey)) {
          // A field kvlog never reads: keep `"name":`, write null in place of its value, drop the value.
          cut(i);
          this.keep(NULL);
          this.skipDepth = this.stack.length;
          this.skipBegun = false;
        }
        this.lastKey = "";
      }
    }
    cut(chunk.length);
    if (this.inKey) {
      (this.keyParts ??= []).push(chunk.subarray(this.keyStart));
      this.keyStart = 0;
    }
    return -1;
  }

  /** The field name that ends at `end`, when it could be a pruned one; "" otherwise. */
  private fieldName(chunk: Buffer, end: number): string {
    let raw: Buffer | undefined;
    if (this.keyParts) {
      this.keyParts.push(chunk.subarray(this.keyStart, end));
      raw = Buffer.concat(this.keyParts);
      this.keyParts = undefined;
    } else if (this.keyEscaped || this.pruneLengths.has(end - this.keyStart)) raw = chunk.subarray(this.keyStart, end);
    this.keyEscaped = false;
    return raw ? fieldName(raw) : "";
  }

  /** The captured value, parsed. */
  value(): unknown {
    const text = Buffer.concat(this.parts).toString("utf8");
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ListFormatError(`malformed JSON in the list (${(e as Error).message})`);
    }
  }
}

export interface ReadListOptions {
  /** Field names (at any depth of an item) whose values kvlog never reads: dropped unparsed. */
  prune?: Iterable<string>;
  maxItemBytes?: number;
}

/**
 * Reads the list from `body`, calling `reduce` on each element of `items` as soon as it is complete.
 * Top-level fields other than `items` are kept whole (they are small).
 */
export async function readList<R>(body: AsyncIterable<unknown>, reduce: (item: unknown) => R, opts: ReadListOptions = {}): Promise<ListPage<R>> {
  const prune = new Set(opts.prune ?? []);
  const none = new Set<string>();
  const max = opts.maxItemBytes ?? MAX_ITEM_BYTES;
  const items: R[] = [];
  const meta: Record<string, unknown> = {};

  // Where the reader is in the top-level object, between values.
  type At = "start" | "key" | "colon" | "value" | "items-open" | "item" | "item-comma" | "comma" | "end";
  let at: At = "start";
  let key = "";
  let keyParts: Buffer[] | undefined;
  let capture: Capture | undefined;
  let intoItems = false;

  const done = (): void => {
    const value = capture!.value();
    capture = undefined;
    if (intoItems) {
      items.push(reduce(value));
      at = "item-comma";
    } else {
      meta[key] = value;
      at = "comma";
    }
  };

  for await (const raw of body) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
    let i = 0;
    if (capture) {
      const end = capture.feed(chunk, 0, 0);
      if (end < 0) continue;
      i = end;
      done();
    }
    while (i < chunk.length) {
      if (keyParts) {
        const q = chunk.indexOf(QUOTE, i);
        keyParts.push(chunk.subarray(i, q < 0 ? chunk.length : q));
        if (q < 0) break;
        key = Buffer.concat(keyParts).toString("utf8");
        keyParts = undefined;
        i = q + 1;
        at = "colon";
        continue;
      }
      const b = chunk[i]!;
      if (isSpace(b)) {
        i++;
        continue;
      }
      const expect = (what: string): never => {
        throw new ListFormatError(at === "start" ? "the answer is not a JSON object" : `malformed JSON in the list (expected ${what})`);
      };
      const begin = (toItems: boolean): void => {
        intoItems = toItems;
        capture = new Capture(b, toItems ? prune : none, max);
        const end = capture.feed(chunk, i, i + 1);
        if (end < 0) {
          i = chunk.length;
          return;
        }
        i = end;
        done();
      };
      switch (at as At) {
        case "start":
          if (b !== OPEN_OBJ) expect("{");
          at = "key";
          i++;
          break;
        case "key":
          if (b === CLOSE_OBJ && Object.keys(meta).length === 0 && items.length === 0) at = "end";
          else if (b === QUOTE) keyParts = [];
          else expect("a field name");
          i++;
          break;
        case "colon":
          if (b !== COLON) expect("':'");
          at = key === "items" ? "items-open" : "value";
          i++;
          break;
        case "items-open":
          if (b === OPEN_ARR) {
            at = "item";
            i++;
          } else begin(false); // "items": null
          break;
        case "item":
          if (b === CLOSE_ARR && items.length === 0) {
            at = "comma";
            i++;
          } else begin(true);
          break;
        case "value":
          begin(false);
          break;
        case "item-comma":
          if (b === COMMA) at = "item";
          else if (b === CLOSE_ARR) at = "comma";
          else expect("',' or ']' between items");
          i++;
          break;
        case "comma":
          if (b === COMMA) at = "key";
          else if (b === CLOSE_OBJ) at = "end";
          else expect("',' or '}'");
          i++;
          break;
        case "end":
          throw new ListFormatError("malformed JSON in the list (data after its end)");
      }
    }
  }
  if (capture?.bareScalar) done();
  if (at !== "end") throw new ListFormatError("the list answer ended early");
  return { items, meta: meta as ListPage<R>["meta"] };
}
