// Minimal X.509 v3 certificate issuer for the fake cluster (test-only).
//
// Node's crypto can generate keys and sign, but it cannot build certificates,
// so this file encodes the DER by hand: ECDSA P-256 keys, ecdsa-with-SHA256
// signatures, and the handful of extensions TLS stacks look at (basic
// constraints, key usage, extended key usage, subject alternative names, key
// identifiers). Nothing is written to disk and no `openssl` binary is needed.
// Every certificate is generated afresh each time a fake cluster starts.

import * as crypto from "node:crypto";
import * as net from "node:net";

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
  key: crypto.KeyObject;
  cert: crypto.X509Certificate;
}

export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  isCA?: boolean;
  dnsNames?: string[];
  ipAddresses?: string[];
  serverAuth?: boolean;
  clientAuth?: boolean;
  /** Signer; absent means self-signed. */
  issuer?: KeyAndCert;
  validDays?: number;
}

// ---- DER primitives -------------------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bitString = (b: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), b]));
const explicit = (n: number, b: Buffer): Buffer => tlv(0xa0 + n, b);
const boolTrue = (): Buffer => tlv(0x01, Buffer.from([0xff]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, "utf8"));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && ((b[i + 1] ?? 0) & 0x80) === 0) i++;
  let v = b.subarray(i);
  if (((v[0] ?? 0) & 0x80) !== 0) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map((x) => Number(x));
  const out: number[] = [40 * (arcs[0] ?? 0) + (arcs[1] ?? 0)];
  for (const arc of arcs.slice(2)) {
    const stack: number[] = [arc & 0x7f];
    let v = Math.floor(arc / 128);
    while (v > 0) {
      stack.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  const body =
    p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + "Z";
  const y = d.getUTCFullYear();
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(p(y % 100) + body, "ascii"));
  return tlv(0x18, Buffer.from(p(y, 4) + body, "ascii"));
}

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

function name(commonName: string, organizations: string[]): Buffer {
  // Same attribute order Go's pkix.Name uses: O before CN.
  const rdns: Buffer[] = [];
  for (const o of organizations) rdns.push(set(seq(oid(OID.organization), utf8(o))));
  rdns.push(set(seq(oid(OID.commonName), utf8(commonName))));
  return seq(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), boolTrue(), octets(value)) : seq(oid(id), octets(value));
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split(".").map((x) => Number(x)));
  // IPv6: expand "::".
  const [head, tail] = ip.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function keyId(spki: Buffer): Buffer {
  return crypto.createHash("sha1").update(spki).digest();
}

/** Issues (or self-signs) a certificate with a fresh P-256 key. */
export function issue(opts: IssueOptions): KeyAndCert {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const now = Date.now();
  const notBefore = new Date(now - 60 * 60 * 1000);
  const notAfter = new Date(now + (opts.validDays ?? 3650) * 24 * 60 * 60 * 1000);
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;

  const subject = name(opts.commonName, opts.organizations ?? []);
  const issuerName = opts.issuer ? rawSubject(opts.issuer.cert) : subject;
  const signerKey = opts.issuer ? opts.issuer.key : privateKey;
  const authorityKeyId = opts.issuer
    ? keyId(opts.issuer.cert.publicKey.export({ type: "spki", format: "der" }))
    : keyId(spki);

  const exts: Buffer[] = [];
  // keyUsage bits: digitalSignature(0)=0x80, keyEncipherment(2)=0x20, keyCertSign(5)=0x04
  if (opts.isCA) {
    exts.push(extension(OID.keyUsage, true, bitString(Buffer.from([0xa4]), 2)));
    exts.push(extension(OID.basicConstraints, true, seq(boolTrue())));
  } else {
    exts.push(extension(OID.keyUsage, true, bitString(Buffer.from([0xa0]), 5)));
    const ekus: Buffer[] = [];
    if (opts.serverAuth) ekus.push(oid(OID.serverAuth));
    if (opts.clientAuth) ekus.push(oid(OID.clientAuth));
    if (ekus.length > 0) exts.push(extension(OID.extKeyUsage, false, seq(...ekus)));
    exts.push(extension(OID.basicConstraints, true, seq()));
  }
  exts.push(extension(OID.subjectKeyIdentifier, false, octets(keyId(spki))));
  if (opts.issuer) exts.push(extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, authorityKeyId))));
  const sans: Buffer[] = [];
  for (const dns of opts.dnsNames ?? []) sans.push(tlv(0x82, Buffer.from(dns, "ascii")));
  for (const ip of opts.ipAddresses ?? []) sans.push(tlv(0x87, ipBytes(ip)));
  if (sans.length > 0) exts.push(extension(OID.subjectAltName, false, seq(...sans)));

  const algorithm = seq(oid(OID.ecdsaWithSHA256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    issuerName,
    seq(time(notBefore), time(notAfter)),
    subject,
    spki,
    explicit(3, seq(...exts)),
  );
  const signature = crypto.sign("sha256", tbs, signerKey);
  const der = seq(tbs, algorithm, bitString(signature));
  const certPem = toPem("CERTIFICATE", der);
  return {
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    certPem,
    key: privateKey,
    cert: new crypto.X509Certificate(certPem),
  };
}

/** Extracts the DER of a certificate's subject Name (to use it as an issuer Name). */
function rawSubject(cert: crypto.X509Certificate): Buffer {
  const der = cert.raw;
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serial, sigAlg, issuer, validity, subject, ... } }
  let pos = 0;
  const readHeader = (): { tag: number; len: number; header: number } => {
    const tag = der[pos] ?? 0;
    let len = der[pos + 1] ?? 0;
    let header = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (der[pos + 2 + i] ?? 0);
      header += n;
    }
    return { tag, len, header };
  };
  let h = readHeader(); // Certificate
  pos += h.header;
  h = readHeader(); // TBSCertificate
  pos += h.header;
  const skip = (): void => {
    const x = readHeader();
    pos += x.header + x.len;
  };
  if ((der[pos] ?? 0) === 0xa0) skip(); // version
  skip(); // serial
  skip(); // signature algorithm
  skip(); // issuer
  skip(); // validity
  const s = readHeader();
  return Buffer.from(der.subarray(pos, pos + s.header + s.len));
}

/**
 * What Kubernetes components do when no serving certificate is configured
 * (client-go cert.GenerateSelfSignedCertKey): a throw-away CA named
 * "<host>-ca@<unix time>" signs a leaf named "<host>@<unix time>", and the
 * server presents both.
 */
export function selfSignedServing(host: string, dnsNames: string[], ips: string[]): { keyPem: string; certChainPem: string } {
  const stamp = Math.floor(Date.now() / 1000);
  const ca = issue({ commonName: `${host}-ca@${stamp}`, isCA: true, validDays: 365 });
  const leaf = issue({
    commonName: `${host}@${stamp}`,
    issuer: ca,
    dnsNames,
    ipAddresses: ips,
    serverAuth: true,
    validDays: 365,
  });
  return { keyPem: leaf.keyPem, certChainPem: leaf.certPem + ca.certPem };
}
