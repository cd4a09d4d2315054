// access: what a request to the apiserver needs (its URL, TLS settings, credentials and a pooled
// dispatcher), and keeping those credentials fresh: renewed when due and when refused, a new
// dispatcher for a new client certificate, and --service-account's minted token. Loads no undici:
// dispatchers are made by the `Connect` given (dispatch.ts's newDispatcher).

import tls from "node:tls";
import type { Dispatcher } from "undici";
import type { KubeApi } from "./objects.js";
import type { Proxies } from "./proxy.js";


export interface ApiTls {
  ca?: Buffer | undefined;
  rejectUnauthorized: boolean;
  servername?: string | undefined;
}

/** How kvlog authenticates. Never printed: only `kind` is shown to users. */
export interface Credentials {
  kind: string;
  headers: Record<string, string>;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /** A short-lived token minted for this run (--service-account): may go where others may not. */
  minted?: boolean | undefined;
}

/** Everything needed to talk to the apiserver: its URL, TLS, credentials and a pooled dispatcher. */
export interface Access {
  server: URL;
  /** The apiserver's TLS settings (CA, tls-server-name, insecure): for the apiserver only. */
  tls: ApiTls;
  /** For any other host (--direct kubelets, --endpoint): the cluster CA, verified unless --insecure-skip-tls-verify. */
  otherTls: ApiTls;
  /** The credentials in force; replaced (with the dispatcher when a client certificate changes) by `renew`. */
  credentials: Credentials;
  dispatcher: Dispatcher;
  /** Where the settings came from, for messages: `kubeconfig ~/.kube/config, context kind-kind`. */
  source: string;
  /** How the dispatcher was made (a renewed client certificate needs a new one, made the same way). */
  pool: Pool;
  /**
   * For credentials that expire (exec plugins, auth providers, token files, minted
   * ServiceAccount tokens): gets them again. Resolves true when they changed.
   */
  renew?: (() => Promise<boolean>) | undefined;
  /** When `renew` is next due (ms since the epoch), like client-go's credential refresh. */
  renewAt?: number | undefined;
  /** The TLS session of the last port-forward tunnel, resumed by the next (cleared when the client certificate changes). */
  tlsSession?: Buffer | undefined;
}

/** A dispatcher's limits: the timeout of each step, and how many connections it may open to one host. */
export interface Pool {
  timeoutMs: number;
  /**
   * At most this many connections per host (kvlog's --concurrency). Without a cap, undici opens a
   * new connection when a request starts in the same tick another one finished, and a fleet run
   * ends up holding about twice as many connections to the apiserver as it has requests in flight.
   */
  connections?: number | undefined;
  /** Through a proxy (kubeconfig proxy-url, HTTPS_PROXY): the apiserver, replicas, kubelets reached directly. */
  proxy?: Proxies | undefined;
}

const NONE = {};
const contexts = new WeakMap<object, WeakMap<object, tls.SecureContext>>();

/**
 * One TLS context per identity (client certificate) and trust (CA), made once: parsing a CA and
 * a key for every connection cost ~0.6 ms each, 3 s of a 5,000-tunnel run.
 */
export function secureContextFor(credentials: Credentials | undefined, ca: Buffer | undefined): tls.SecureContext {
  const byCa = contexts.get(credentials ?? NONE) ?? new WeakMap<object, tls.SecureContext>();
  contexts.set(credentials ?? NONE, byCa);
  let ctx = byCa.get(ca ?? NONE);
  if (!ctx) {
    ctx = tls.createSecureContext({ ca, cert: credentials?.cert, key: credentials?.key });
    byCa.set(ca ?? NONE, ctx);
  }
  return ctx;
}

/** Makes the pooled dispatcher of an identity (dispatch.ts's newDispatcher; tests may pass another). */
export type Connect = (tlsConf: ApiTls, credentials: Credentials | undefined, pool: Pool) => Dispatcher;

/**
 * Credentials that can expire are fetched again at least this often, as client-go re-reads
 * token files every minute; exec plugins answer from their cache until the token's own expiry.
 */
export const RENEW_EVERY_MS = 60_000;

/**
 * Makes `access` renew its credentials with `load` every `everyMs` and when the apiserver
 * refuses them (apiRequest). A new client certificate gets a new dispatcher; the old one is
 * closed once its requests in flight are done.
 */
export function setRenewal(access: Access, load: () => Promise<Credentials>, everyMs: number, connect: Connect): void {
  let inFlight: Promise<boolean> | undefined;
  access.renewAt = Date.now() + everyMs;
  access.renew = () => {
    inFlight ??= (async () => {
      try {
        const next = await load();
        access.renewAt = Date.now() + everyMs;
        const prev = access.credentials;
        const same = JSON.stringify(next.headers) === JSON.stringify(prev.headers) && sameBuffer(next.cert, prev.cert) && sameBuffer(next.key, prev.key);
        if (same) return false;
        if (!sameBuffer(next.cert, prev.cert) || !sameBuffer(next.key, prev.key)) {
          const old = access.dispatcher;
          access.dispatcher = connect(access.tls, next, access.pool);
          access.tlsSession = undefined; // a resumed session would carry the old certificate's identity
          void old.close().catch(() => {});
        }
        access.credentials = { ...next, kind: prev.kind };
        return true;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
}

function sameBuffer(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

/** Renews the credentials when they are due. */
export async function freshCredentials(access: Access): Promise<Credentials> {
  if (access.renew && access.renewAt !== undefined && Date.now() >= access.renewAt) await access.renew();
  return access.credentials;
}

/** Lifetime of a minted ServiceAccount token; it is minted again after SA_TOKEN_RENEW_MS. */
export const SA_TOKEN_SECONDS = 600;
const SA_TOKEN_RENEW_MS = 480_000;

/**
 * Acts as a ServiceAccount: a short-lived token minted through the TokenRequest API with the
 * user's own credentials (`api`), minted again before it expires and when it is refused.
 */
export async function withServiceAccount(access: Access, api: KubeApi, namespace: string, name: string, connect: Connect): Promise<Access> {
  const mint = async (): Promise<Credentials> => ({
    kind: `ServiceAccount ${namespace}/${name} token (TokenRequest, 10 min, renewed)`,
    headers: { Authorization: `Bearer ${await api.createToken(namespace, name, SA_TOKEN_SECONDS)}` },
    minted: true,
  });
  const credentials = await mint();
  const acting: Access = { ...access, credentials, dispatcher: connect(access.tls, credentials, access.pool), renew: undefined, renewAt: undefined, tlsSession: undefined };
  setRenewal(acting, mint, SA_TOKEN_RENEW_MS, connect);
  return acting;
}
