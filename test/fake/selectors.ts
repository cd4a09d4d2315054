// Label and field selectors, ported from k8s.io/apimachinery so that the fake
// apiserver accepts, matches and rejects selectors the way the real one does.
//
// Upstream references:
//   - apimachinery/pkg/labels/selector.go        Lexer, Parser, NewRequirement, Requirement.Matches
//   - apimachinery/pkg/util/validation           IsQualifiedName, IsValidLabelValue, RegexError
//   - apimachinery/pkg/util/validation/field     Error.Error, ErrorBody, Path.String ("<nil>")
//   - apimachinery/pkg/fields/selector.go        parseSelector, splitTerm, UnescapeValue
//   - pkg/apis/core/v1/conversion.go             field label conversions for Pod and Node

// ---- label selectors -----------------------------------------------------

type Op = "in" | "notin" | "=" | "==" | "!=" | "exists" | "!" | "gt" | "lt";

export interface Requirement {
  key: string;
  op: Op;
  values: string[];
}

export type Selector = Requirement[];

const T = {
  Error: 0,
  End: 1,
  ClosedPar: 2,
  Comma: 3,
  DoesNotExist: 4,
  DoubleEquals: 5,
  Equals: 6,
  GreaterThan: 7,
  Identifier: 8,
  In: 9,
  LessThan: 10,
  NotEquals: 11,
  NotIn: 12,
  OpenPar: 13,
} as const;
type Tok = (typeof T)[keyof typeof T];

const string2token: Record<string, Tok> = {
  ")": T.ClosedPar,
  ",": T.Comma,
  "!": T.DoesNotExist,
  "==": T.DoubleEquals,
  "=": T.Equals,
  ">": T.GreaterThan,
  in: T.In,
  "<": T.LessThan,
  "!=": T.NotEquals,
  notin: T.NotIn,
  "(": T.OpenPar,
};

const isWhitespace = (ch: string): boolean => ch === " " || ch === "\t" || ch === "\r" || ch === "\n";
const isSpecial = (ch: string): boolean => "=!(),><".includes(ch) && ch !== "";

function lex(s: string): Array<{ tok: Tok; lit: string }> {
  let pos = 0;
  const read = (): string => (pos < s.length ? (s[pos++] ?? "") : "");
  const unread = (): void => {
    pos--;
  };
  const items: Array<{ tok: Tok; lit: string }> = [];
  for (;;) {
    let ch = read();
    while (ch !== "" && isWhitespace(ch)) ch = read();
    if (ch === "") {
      items.push({ tok: T.End, lit: "" });
      return items;
    }
    unread();
    if (isSpecial(ch)) {
      let buffer = "";
      let last: { tok: Tok; lit: string } | undefined;
      for (;;) {
        const c = read();
        if (c === "") break;
        if (isSpecial(c)) {
          buffer += c;
          const t = string2token[buffer];
          if (t !== undefined) last = { tok: t, lit: buffer };
          else if (last) {
            unread();
            break;
          }
        } else {
          unread();
          break;
        }
      }
      items.push(last ?? { tok: T.Error, lit: `error expected: keyword found '${buffer}'` });
    } else {
      let buffer = "";
      for (;;) {
        const c = read();
        if (c === "") break;
        if (isSpecial(c) || isWhitespace(c)) {
          unread();
          break;
        }
        buffer += c;
      }
      const t = string2token[buffer];
      items.push(t !== undefined ? { tok: t, lit: buffer } : { tok: T.Identifier, lit: buffer });
    }
  }
}

const qualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const qualifiedNameErrMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const dns1123SubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const dns1123SubdomainErrMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const labelValueErrMsg =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  let out = msg + " (e.g. ";
  examples.forEach((e, i) => {
    if (i > 0) out += " or ";
    out += `'${e}', `;
  });
  return out + `regex used for validation is '${fmt}')`;
}

function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  let nameStr: string;
  if (parts.length === 1) nameStr = parts[0] ?? "";
  else if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    nameStr = parts[1] ?? "";
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else {
      if (prefix.length > 253) errs.push("prefix part must be no more than 253 characters");
      if (!new RegExp(`^${dns1123SubdomainFmt}$`).test(prefix))
        errs.push("prefix part " + regexError(dns1123SubdomainErrMsg, dns1123SubdomainFmt, "example.com"));
    }
  } else {
    return [
      "a qualified name " +
        regexError(qualifiedNameErrMsg, qualifiedNameFmt, "MyName", "my.name", "123-abc") +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (nameStr.length === 0) errs.push("name part must be non-empty");
  else if (nameStr.length > 63) errs.push("name part must be no more than 63 characters");
  if (!new RegExp(`^${qualifiedNameFmt}$`).test(nameStr))
    errs.push("name part " + regexError(qualifiedNameErrMsg, qualifiedNameFmt, "MyName", "my.name", "123-abc"));
  return errs;
}

function isValidLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push("must be no more than 63 characters");
  if (!new RegExp(`^(${qualifiedNameFmt})?$`).test(v))
    errs.push(regexError(labelValueErrMsg, `(${qualifiedNameFmt})?`, "MyValue", "my_value", "12345"));
  return errs;
}

/** field.Invalid(path, value, detail).Error() for a string value; path "<nil>" when unset. */
function fieldInvalid(path: string, value: string, detail: string): string {
  return `${path}: Invalid value: ${JSON.stringify(value)}: ${detail}`;
}

class ParseError extends Error {}

function aggregate(errs: string[]): string {
  const seen: string[] = [];
  for (const e of errs) if (!seen.includes(e)) seen.push(e);
  return seen.length === 1 ? (seen[0] ?? "") : `[${seen.join(", ")}]`;
}

function newRequirement(key: string, op: Op, values: string[]): Requirement {
  const errs: string[] = [];
  const keyErrs = isQualifiedName(key);
  if (keyErrs.length > 0) errs.push(fieldInvalid("key", key, keyErrs.join("; ")));
  if (op === "gt" || op === "lt") {
    if (values.length !== 1) errs.push(`values: Invalid value: []string{${values.map((v) => JSON.stringify(v)).join(", ")}}: for 'Gt', 'Lt' operators, exactly one value is required`);
    values.forEach((v, i) => {
      if (!/^[+-]?\d+$/.test(v)) errs.push(fieldInvalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
    });
  }
  values.forEach((v, i) => {
    const ve = isValidLabelValue(v);
    if (ve.length > 0) errs.push(fieldInvalid(`values[${i}][${key}]`, v, ve.join("; ")));
  });
  if (errs.length > 0) throw new ParseError(aggregate(errs));
  return { key, op, values };
}

/** labels.Parse. Throws an Error whose message is upstream's error text. */
export function parseLabelSelector(selector: string): Selector {
  const items = lex(selector);
  let position = 0;
  const valuesCtx = (t: Tok): Tok => (t === T.In || t === T.NotIn ? T.Identifier : t);
  const lookahead = (values: boolean): { tok: Tok; lit: string } => {
    const it = items[position] ?? { tok: T.End, lit: "" };
    return { tok: values ? valuesCtx(it.tok) : it.tok, lit: it.lit };
  };
  const consume = (values: boolean): { tok: Tok; lit: string } => {
    const r = lookahead(values);
    position++;
    return r;
  };

  const parseRequirement = (): Requirement => {
    // parseKeyAndInferOperator
    let op: Op | undefined;
    let { tok, lit } = consume(true);
    if (tok === T.DoesNotExist) {
      op = "!";
      ({ tok, lit } = consume(true));
    }
    if (tok !== T.Identifier) throw new ParseError(`found '${lit}', expected: identifier`);
    const keyErrs = isQualifiedName(lit);
    if (keyErrs.length > 0) throw new ParseError(fieldInvalid("<nil>", lit, keyErrs.join("; ")));
    const key = lit;
    const la = lookahead(true).tok;
    if (la === T.End || la === T.Comma) {
      if (op !== "!") op = "exists";
    }
    if (op === "exists" || op === "!") return newRequirement(key, op, []);
    // parseOperator
    const o = consume(false);
    switch (o.tok) {
      case T.In:
        op = "in";
        break;
      case T.Equals:
        op = "=";
        break;
      case T.DoubleEquals:
        op = "==";
        break;
      case T.GreaterThan:
        op = "gt";
        break;
      case T.LessThan:
        op = "lt";
        break;
      case T.NotIn:
        op = "notin";
        break;
      case T.NotEquals:
        op = "!=";
        break;
      default:
        throw new ParseError(`found '${o.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    }
    let values: string[];
    if (op === "in" || op === "notin") {
      // parseValues
      const open = consume(true);
      if (open.tok !== T.OpenPar) throw new ParseError(`found '${open.lit}' expected: '('`);
      const first = lookahead(true);
      if (first.tok === T.Identifier || first.tok === T.Comma) {
        const s = new Set<string>();
        for (;;) {
          const c = consume(true);
          if (c.tok === T.Identifier) {
            s.add(c.lit);
            const n = lookahead(true);
            if (n.tok === T.Comma) continue;
            if (n.tok === T.ClosedPar) break;
            throw new ParseError(`found '${n.lit}', expected: ',' or ')'`);
          } else if (c.tok === T.Comma) {
            if (s.size === 0) s.add("");
            const n = lookahead(true);
            if (n.tok === T.ClosedPar) {
              s.add("");
              break;
            }
            if (n.tok === T.Comma) s.add("");
          } else throw new ParseError(`found '${c.lit}', expected: ',', or identifier`);
        }
        if (consume(true).tok !== T.ClosedPar) throw new ParseError(`found '${first.lit}', expected: ')'`);
        values = [...s].sort();
      } else if (first.tok === T.ClosedPar) {
        consume(true);
        values = [""];
      } else throw new ParseError(`found '${first.lit}', expected: ',', ')' or identifier`);
    } else {
      // parseExactValue
      const la2 = lookahead(true);
      if (la2.tok === T.End || la2.tok === T.Comma) values = [""];
      else {
        const v = consume(true);
        if (v.tok !== T.Identifier) throw new ParseError(`found '${v.lit}', expected: identifier`);
        values = [v.lit];
      }
    }
    return newRequirement(key, op, values);
  };

  const reqs: Requirement[] = [];
  try {
    for (;;) {
      const { tok, lit } = lookahead(true);
      if (tok === T.Identifier || tok === T.DoesNotExist) {
        let r: Requirement;
        try {
          r = parseRequirement();
        } catch (e) {
          throw new ParseError(`unable to parse requirement: ${(e as Error).message}`);
        }
        reqs.push(r);
        const t = consume(true);
        if (t.tok === T.End) break;
        if (t.tok === T.Comma) {
          const n = lookahead(true);
          if (n.tok !== T.Identifier && n.tok !== T.DoesNotExist)
            throw new ParseError(`found '${n.lit}', expected: identifier after ','`);
          continue;
        }
        throw new ParseError(`found '${t.lit}', expected: ',' or 'end of string'`);
      } else if (tok === T.End) break;
      else throw new ParseError(`found '${lit}', expected: !, identifier, or 'end of string'`);
    }
  } catch (e) {
    throw new Error((e as Error).message);
  }
  return reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function labelsMatch(sel: Selector, labels: Record<string, string> | undefined): boolean {
  const ls = labels ?? {};
  return sel.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(ls, r.key);
    const v = ls[r.key];
    switch (r.op) {
      case "in":
      case "=":
      case "==":
        return has && r.values.includes(v ?? "");
      case "notin":
      case "!=":
        return !has || !r.values.includes(v ?? "");
      case "exists":
        return has;
      case "!":
        return !has;
      case "gt":
      case "lt": {
        if (!has || !/^[+-]?\d+$/.test(v ?? "")) return false;
        const a = BigInt(v ?? "0");
        const b = BigInt(r.values[0] ?? "0");
        return r.op === "gt" ? a > b : a < b;
      }
    }
    return false;
  });
}

// ---- field selectors -----------------------------------------------------

export interface FieldTerm {
  field: string;
  value: string;
  negate: boolean;
}

function splitTerms(s: string): string[] {
  if (s === "") return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < s.length; i++) {
    if (escaped) escaped = false;
    else if (s[i] === "\\") escaped = true;
    else if (s[i] === ",") {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

function unescapeValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = "";
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c === "\\" || c === "," || c === "=") out += c;
      else throw new Error(`invalid field selector: invalid escape sequence: \\${c}`);
      inSlash = false;
      continue;
    }
    if (c === "\\") inSlash = true;
    else if (c === "," || c === "=") throw new Error(`invalid field selector: unescaped character in value: ${c}`);
    else out += c;
  }
  if (inSlash) throw new Error("invalid field selector: invalid escape sequence: \\");
  return out;
}

/** fields.ParseSelector followed by the kind's field label conversion. */
export function parseFieldSelector(selector: string, supported: string[]): FieldTerm[] {
  const parts = splitTerms(selector).sort();
  const terms: FieldTerm[] = [];
  for (const part of parts) {
    if (part === "") continue;
    let found: { lhs: string; op: string; rhs: string } | undefined;
    outer: for (let i = 0; i < part.length; i++) {
      for (const op of ["!=", "==", "="]) {
        if (part.startsWith(op, i)) {
          found = { lhs: part.slice(0, i), op, rhs: part.slice(i + op.length) };
          break outer;
        }
      }
    }
    if (!found) throw new Error(`invalid selector: '${selector}'; can't understand '${part}'`);
    terms.push({ field: found.lhs, value: unescapeValue(found.rhs), negate: found.op === "!=" });
  }
  for (const t of terms) {
    if (t.field === "spec.host" && supported.includes("spec.nodeName")) t.field = "spec.nodeName";
    else if (!supported.includes(t.field)) throw new Error(`field label not supported: ${t.field}`);
  }
  return terms;
}

export function fieldsMatch(terms: FieldTerm[], fields: Record<string, string>): boolean {
  return terms.every((t) => ((fields[t.field] ?? "") === t.value) !== t.negate);
}

export const podFieldLabels = [
  "metadata.name",
  "metadata.namespace",
  "spec.nodeName",
  "spec.restartPolicy",
  "spec.schedulerName",
  "spec.serviceAccountName",
  "spec.hostNetwork",
  "status.phase",
  "status.podIP",
  "status.podIPs",
  "status.nominatedNodeName",
];
export const nodeFieldLabels = ["metadata.name", "spec.unschedulable"];
