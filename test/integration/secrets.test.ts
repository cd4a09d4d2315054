// Servers that echo the credentials they receive back into their answers, so that kvlog's
// masking is exercised on every path a message can take (a target's answer, a discovery
// error), and an http:// endpoint that records whether any credential reached it.
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSignedServing } from "../fake/x509.ts";
import { kvlog } from "./run.ts";

const TOKEN = "kvlog-test-secret-token-0123456789abcdef";
const seen: { server: string; authorization: string | undefined }[] = [];
const servers: http.Server[] = [];
let echoUrl = "";
let plainUrl = "";
let dir = "";

/** Answers everything with the credential it was sent: as a component's 400 text, or an apiserver's 403 Status. */
function echo(req: http.IncomingMessage, res: http.ServerResponse, name: string): void {
  const auth = req.headers.authorization;
  seen.push({ server: name, authorization: auth });
  if (req.url?.startsWith("/api/")) {
    res.writeHead(403, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `forbidden: you sent "${auth}"`, reason: "Forbidden", code: 403 }));
    return;
  }
  res.writeHead(400, { "Content-Type": "text/plain" });
  res.end(`failed set klog.logging.verbosity: your credentials were ${auth}\n`);
}

beforeAll(async () => {
  const tls = await selfSignedServing("localhost", ["localhost"], ["127.0.0.1"]);
  const secure = https.createServer({ key: tls.keyPem, cert: tls.certChainPem }, (q, s) => echo(q, s, "https"));
  const plain = http.createServer((q, s) => echo(q, s, "http"));
  for (const s of [secure, plain]) {
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    servers.push(s);
  }
  echoUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
  plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), "kvlog-secrets-"));
});
afterAll(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe("a credential echoed back by a server never reaches the output", () => {
  it("in a target's answer (table and JSON)", async () => {
    for (const output of ["table", "json"]) {
      const r = await kvlog(["set", "scheduler", "3", "--endpoint", echoUrl, "--token", TOKEN, "--insecure-skip-tls-verify", "-o", output], {});
      expect(r.code).toBe(1);
      expect(seen.at(-1)).toEqual({ server: "https", authorization: `Bearer ${TOKEN}` }); // it was sent, and echoed
      expect(r.stdout + r.stderr).not.toContain(TOKEN);
      expect(r.stdout).toContain("<redacted>");
    }
  });

  it("in a discovery error from the apiserver", async () => {
    const kc = join(dir, "echo.kubeconfig");
    writeFileSync(
      kc,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: e\n  cluster: {server: "${echoUrl}", insecure-skip-tls-verify: true}\ncontexts:\n- name: e\n  context: {cluster: e, user: u}\ncurrent-context: e\nusers:\n- name: u\n  user: {token: ${TOKEN}}\n`,
    );
    const r = await kvlog(["set", "kubelet", "3"], { KUBECONFIG: kc, KVLOG_DEBUG: "1" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kvlog: forbidden to list nodes: forbidden: you sent "Bearer <redacted>"/);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });
});

describe("an http:// endpoint of an authenticating component gets no credential", () => {
  it("--endpoint http:// with --token: the PUT arrives without Authorization", async () => {
    const r = await kvlog(["set", "scheduler", "3", "--endpoint", plainUrl, "--token", TOKEN, "-o", "json"], {});
    expect(seen.at(-1)).toEqual({ server: "http", authorization: undefined });
    expect(r.json().results[0].request.auth).toBe("none");
  });
});
