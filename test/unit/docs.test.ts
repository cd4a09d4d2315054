// The documentation holds together: every local link in README.md, CONTRIBUTING.md and docs/*.md
// points at a file that exists (and, for a Markdown file, at a heading or anchor in it), the blocks
// other tests and the e2e harness read live in exactly one page each, and the verified versions the
// README names are the matrix the harness runs.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { rbacYaml } from "../../src/rbac.js";
import { COMPONENTS } from "../../src/components.js";
import { DOC_BLOCKS, docBlock, docPage } from "../docs-blocks.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The pages checked, relative to the repository root. */
function pages(): string[] {
  return ["README.md", "CONTRIBUTING.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
}

/** Markdown with fenced code blocks and inline code removed (links inside code are not links). */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Every anchor a page offers: its headings' slugs (repeats get -1, -2, as GitHub numbers them) and <a id>/<a name>. */
export function anchors(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").split("\n")) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(a[1]!);
  }
  return out;
}

/** The broken local links of one page: `](target)` whose file, or whose anchor in a Markdown file, does not exist. */
export function brokenLinks(page: string, md: string, read: (path: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const m of prose(md).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [file, anchor] = target.split("#", 2) as [string, string | undefined];
    const path = file === "" ? page : normalize(join(dirname(page), decodeURIComponent(file))).replace(/\\/g, "/");
    const text = read(path);
    if (text === undefined) {
      broken.push(`${page}: ${target} (no file ${path})`);
      continue;
    }
    if (anchor !== undefined && path.endsWith(".md") && !anchors(text).has(anchor)) broken.push(`${page}: ${target} (no heading #${anchor} in ${path})`);
  }
  return broken;
}

function readRepo(path: string): string | undefined {
  const full = join(ROOT, path);
  if (!existsSync(full)) return undefined;
  // A directory link (docs/, test/fake/) is fine as long as it exists.
  try {
    return readFileSync(full, "utf8");
  } catch {
    return "";
  }
}

describe("documentation links", () => {
  it("every local link in README.md, CONTRIBUTING.md and docs/*.md resolves, anchors included", () => {
    const all = pages();
    expect(all).toEqual(expect.arrayContaining(["README.md", "CONTRIBUTING.md", "docs/README.md", "docs/usage.md", "docs/safety.md", "docs/rbac-and-security.md", "docs/output.md", "docs/scale.md"]));
    const broken = all.flatMap((p) => brokenLinks(p, readRepo(p)!, readRepo));
    expect(broken).toEqual([]);
  });

  it("the checker finds a missing file, a missing anchor, and accepts headings with code and punctuation", () => {
    const files: Record<string, string> = {
      "docs/a.md": "# A\n\n## Timed changes: `set --for`\n\n## Timed changes: `set --for`\n\n<a id=\"fig\"></a>\n",
      "README.md": "[ok](docs/a.md#timed-changes-set---for) [ok2](docs/a.md#timed-changes-set---for-1) [ok3](docs/a.md#fig) [web](https://x.y/z)\n" +
        "[gone](docs/b.md) [bad](docs/a.md#nope) [self](#a-heading) `[code](docs/none.md)`\n\n## A heading\n",
    };
    const broken = brokenLinks("README.md", files["README.md"]!, (p) => files[p]);
    expect(broken).toEqual(["README.md: docs/b.md (no file docs/b.md)", "README.md: docs/a.md#nope (no heading #nope in docs/a.md)"]);
  });

  it("the README stays short: at most 250 lines", () => {
    expect(readRepo("README.md")!.split("\n").length).toBeLessThanOrEqual(250);
  });
});

describe("documentation blocks", () => {
  it("each block that tests read is in exactly one page, the one test/docs-blocks.ts names", () => {
    for (const [name, page] of Object.entries(DOC_BLOCKS)) {
      const holders = pages().filter((p) => new RegExp(`^<!-- ${name}:begin -->$`, "m").test(readRepo(p)!));
      expect(holders, name).toEqual([page]);
      expect(docBlock(name as keyof typeof DOC_BLOCKS).length, name).toBeGreaterThan(100);
    }
  });

  it("the e2e harness reads the RBAC block from the same page (test/e2e/cluster/up.sh)", () => {
    expect(readRepo("test/e2e/cluster/up.sh")).toContain(`RBAC_DOC=${DOC_BLOCKS.rbac}\n`);
  });

  it("the CronJob runs `kvlog reset --expired` as a ServiceAccount bound to the ClusterRole and Role `kvlog rbac` prints", () => {
    const yaml = docBlock("cronjob");
    const docs = yaml.split(/^---$/m);
    const kinds = docs.map((d) => /^kind: (\S+)$/m.exec(d)?.[1]);
    expect(kinds).toEqual(["ServiceAccount", "ClusterRoleBinding", "RoleBinding", "CronJob"]);
    const rbac = rbacYaml([...COMPONENTS], undefined, "kvlog");
    for (const [binding, role] of [["ClusterRoleBinding", "ClusterRole"], ["RoleBinding", "Role"]] as const) {
      const doc = docs[kinds.indexOf(binding)]!;
      expect(doc).toMatch(new RegExp(`roleRef:\\n  apiGroup: rbac.authorization.k8s.io\\n  kind: ${role}\\n  name: kvlog\\n`));
      expect(doc).toMatch(/subjects:\n  - kind: ServiceAccount\n    name: kvlog-reset\n    namespace: kube-system\n/);
      expect(rbac).toMatch(new RegExp(`^kind: ${role}\\nmetadata:\\n  name: kvlog\\n`, "m"));
    }
    const cron = docs[kinds.indexOf("CronJob")]!;
    expect(cron).toContain("serviceAccountName: kvlog-reset\n");
    expect(cron).toContain('command: ["kvlog", "reset", "--expired", "-o", "json"]\n');
  });

  it("the README's verified versions and CONTRIBUTING.md's matrix table are the releases test/e2e/cluster/k8s-versions.sh runs", () => {
    const sh = docPage("test/e2e/cluster/k8s-versions.sh");
    const list = (name: string) => /^K8S_MATRIX(?:_ALLOWED_FAILURE)?=\((.*)\)$/m.exec(sh.split("\n").find((l) => l.startsWith(`${name}=(`)) ?? "")?.[1]!.split(/\s+/) ?? [];
    const matrix = list("K8S_MATRIX");
    const allowed = new Set(list("K8S_MATRIX_ALLOWED_FAILURE"));
    expect(matrix.length).toBeGreaterThan(3);
    const verified = matrix.filter((v) => !allowed.has(v));
    const readme = docPage("README.md");
    // The section's prose, up to its re-run commands.
    const start = readme.indexOf("## Verified Kubernetes versions");
    expect(start).toBeGreaterThan(0);
    const prose = readme.slice(start, readme.indexOf("```", start));
    expect(prose.match(/v1\.\d+\.\d+(?!-)/g)).toEqual(verified);
    const contributing = docPage("CONTRIBUTING.md");
    const table = /<!-- matrix:begin -->\n(\|[^\n]*)\n/.exec(contributing)?.[1];
    expect(table, "CONTRIBUTING.md has no <!-- matrix:begin --> table").toBeDefined();
    const columns = table!.split("|").slice(2, -1).map((c) => c.trim().split(" ")[0]);
    expect(columns).toEqual(matrix);
  });
});
