// The blocks of the documentation that tests and the e2e harness use as they are written: the RBAC
// YAML (`kvlog rbac`'s output, docs/rbac-and-security.md) and the reset CronJob manifest
// (docs/safety.md). Each is fenced by `<!-- NAME:begin -->` and `<!-- NAME:end -->` around one
// ```yaml block, and lives in exactly one page; test/e2e/cluster/up.sh reads the RBAC block from
// the same page with sed (keep DOC_BLOCKS and up.sh's path the same).
import { readFileSync } from "node:fs";

export const DOC_BLOCKS = {
  rbac: "docs/rbac-and-security.md",
  cronjob: "docs/safety.md",
} as const;

export type DocBlock = keyof typeof DOC_BLOCKS;

/** The text of a page, by its path from the repository root. */
export function docPage(path: string): string {
  return readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
}

/** The YAML inside a block, exactly as written; throws, naming the page, when the block is missing or malformed. */
export function docBlock(name: DocBlock): string {
  const page = DOC_BLOCKS[name];
  const text = docPage(page);
  const m = new RegExp(`<!-- ${name}:begin -->\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\`\\n<!-- ${name}:end -->`).exec(text);
  if (!m) throw new Error(`${page} has no ${name} block (<!-- ${name}:begin -->, a \`\`\`yaml block, <!-- ${name}:end -->)`);
  return m[1]!;
}
