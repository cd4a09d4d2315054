// Certificates for the fake cluster (test-only), issued with @peculiar/x509 (PKI.js's successor
// from the same maintainers: X.509 generation over WebCrypto) and node's WebCrypto: ECDSA P-256
// keys, ecdsa-with-SHA256 signatures, and the extensions TLS stacks look at (basic constraints,
// key usage, extended key usage, subject alternative names, key identifiers), as kubeadm and
// client-go's cert.GenerateSelfSignedCertKey make them. Nothing is written to disk and no
// `openssl` binary is needed; every certificate is made afresh each time a fake cluster starts.
//
// WebCrypto is asynchronous, so issuing is too: the fake makes every certificate it needs while
// it starts (startFakeCluster is async), never while it serves.

import * as crypto from "node:crypto";
import type { webcrypto } from "node:crypto";
import "reflect-metadata"; // @peculiar/x509's dependency injection (tsyringe) needs the Reflect API
import * as x509 from "@peculiar/x509";

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
  key: webcrypto.CryptoKey;
  cert: x509.X509Certificate;
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

x509.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

/** Issues (or self-signs) a certificate with a fresh P-256 key. */
export async function issue(opts: IssueOptions): Promise<KeyAndCert> {
  const keys = (await crypto.webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // a positive INTEGER
  // Go's pkix.Name order: O before CN.
  const subject = new x509.Name([...(opts.organizations ?? []).map((o) => ({ O: [o] })), { CN: [opts.commonName] }]);
  const U = x509.KeyUsageFlags;
  const extensions: x509.Extension[] = [];
  if (opts.isCA) {
    extensions.push(new x509.KeyUsagesExtension(U.digitalSignature | U.keyEncipherment | U.keyCertSign, true));
    extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  } else {
    extensions.push(new x509.KeyUsagesExtension(U.digitalSignature | U.keyEncipherment, true));
    const ekus = [...(opts.serverAuth ? [x509.ExtendedKeyUsage.serverAuth] : []), ...(opts.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : [])];
    if (ekus.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(ekus));
    extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
  }
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (opts.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(opts.issuer.cert));
  const sans = [...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })), ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value }))];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString("hex"),
    subject,
    issuer: opts.issuer ? opts.issuer.cert.subjectName : subject,
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + (opts.validDays ?? 3650) * 24 * 60 * 60 * 1000),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: opts.issuer ? opts.issuer.key : keys.privateKey,
    extensions,
  });
  return {
    keyPem: crypto.KeyObject.from(keys.privateKey).export({ type: "pkcs8", format: "pem" }).toString(),
    certPem: cert.toString("pem") + "\n",
    key: keys.privateKey,
    cert,
  };
}

/**
 * What Kubernetes components do when no serving certificate is configured
 * (client-go cert.GenerateSelfSignedCertKey): a throw-away CA named
 * "<host>-ca@<unix time>" signs a leaf named "<host>@<unix time>", and the
 * server presents both.
 */
export async function selfSignedServing(host: string, dnsNames: string[], ips: string[]): Promise<{ keyPem: string; certChainPem: string }> {
  const stamp = Math.floor(Date.now() / 1000);
  const ca = await issue({ commonName: `${host}-ca@${stamp}`, isCA: true, validDays: 365 });
  const leaf = await issue({
    commonName: `${host}@${stamp}`,
    issuer: ca,
    dnsNames,
    ipAddresses: ips,
    serverAuth: true,
    validDays: 365,
  });
  return { keyPem: leaf.keyPem, certChainPem: leaf.certPem + ca.certPem };
}
