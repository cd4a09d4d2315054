// retry: when a request is tried again, and how long kvlog waits first. One backoff for
// failures that may pass within seconds (a connection refused or closed before an answer, a 503:
// at most MAX_ATTEMPTS tries), one wait for the apiserver's 429 (its Retry-After), and the one
// loop that renews credentials on a 401 and waits out a 429 for every apiserver request (API
// calls, the node proxy, port-forward tunnels).

import { freshCredentials, type Access, type Credentials } from "./access.js";
import { failedBeforeAnswer, sleep, type HttpAnswer } from "./http.js";
import { TunnelError } from "./portforward.js";
import type { Target } from "./target.js";

/** Tries of one request, the first included: a PUT of a level, an API call. */
export const MAX_ATTEMPTS = 3;

/** The longest Retry-After a retried failure (503, a component's 429) waits for. */
const MAX_BACKOFF_RETRY_AFTER_S = 5;

/**
 * How long to wait before the next try (its Retry-After, else 250 ms doubling, with jitter), or
 * undefined when there is none: attempts used, or too little time left for the next try to answer.
 */
export function backoff(attempts: number, retryAfterS: number | undefined, leftMs: number): number | undefined {
  if (attempts >= MAX_ATTEMPTS) return undefined;
  const wait = retryAfterS !== undefined ? Math.min(retryAfterS, MAX_BACKOFF_RETRY_AFTER_S) * 1000 : 250 * 2 ** (attempts - 1) + Math.floor(Math.random() * 100);
  return wait + 500 < leftMs ? wait : undefined; // leave the next try time to answer
}

/**
 * Answers worth another try: 429, and 503 that says when to come back (Retry-After) or comes
 * from the component itself. A node proxy's 502/503 means the apiserver could not dial the
 * kubelet, which another try within seconds does not change; 4xx answers never change.
 */
export function retryAnswer(target: Target, ans: HttpAnswer, attempts: number, leftMs: number): number | undefined {
  const retryable = ans.status === 429 || (ans.status === 503 && (ans.retryAfter !== undefined || target.via !== "node-proxy"));
  return retryable ? backoff(attempts, ans.retryAfter, leftMs) : undefined;
}

/** Connection failures before any answer (refused, reset, closed): the request did not happen, or happened once. Timeouts are not tried again. */
export function retryError(e: unknown, attempts: number, leftMs: number): number | undefined {
  const refusedInTunnel = e instanceof TunnelError && /connection refused/i.test(e.message);
  return refusedInTunnel || failedBeforeAnswer(e) ? backoff(attempts, undefined, leftMs) : undefined;
}

/** How often a request that the apiserver throttles (429) is tried again, and the longest wait. */
export const MAX_THROTTLE_RETRIES = 5;
const MAX_RETRY_AFTER_S = 10;

/**
 * How long to wait before trying a throttled (429) request again: its Retry-After (1 s when
 * absent, at most MAX_RETRY_AFTER_S), spread a little so a fleet's requests do not all come back
 * at once. Undefined when that wait would pass the deadline.
 */
export function throttleWait(retryAfter: number | undefined, deadline: number): number | undefined {
  const wait = Math.min(retryAfter ?? 1, MAX_RETRY_AFTER_S) * 1000 + Math.floor(Math.random() * 250);
  return Date.now() + wait < deadline ? wait : undefined;
}

/** What the apiserver said to one try, when it refused it: its status and Retry-After. */
export interface Refusal {
  status: number;
  retryAfter?: number | undefined;
}

/**
 * A request to the apiserver, tried the way client-go tries it: with credentials renewed when
 * due, renewed once more when refused (401), and a 429 from API Priority and Fairness waited out
 * (throttleWait, at most MAX_THROTTLE_RETRIES times), all before `deadline`. `once` makes one try
 * with the credentials it is given; `refusal` reads what the apiserver answered to it.
 */
export async function renewingThrottled<T>(
  access: Access,
  deadline: number,
  signal: AbortSignal | undefined,
  once: (credentials: Credentials) => Promise<T>,
  refusal: (value: T) => Refusal | undefined,
  /** Called with an answer that is not used because the request goes again (a streamed body to let go). */
  discard?: (value: T) => void,
): Promise<{ value: T; attempts: number }> {
  let attempts = 0;
  let renewed = false;
  let throttled = 0;
  for (;;) {
    const creds = await freshCredentials(access);
    attempts++;
    const value = await once(creds);
    const refused = refusal(value);
    if (refused?.status === 401 && access.renew && !renewed) {
      renewed = true;
      // Requests in parallel (discovery, the record, whoami) are refused together: the first
      // renews, the others go again with what it fetched instead of running the plugin again.
      if (access.credentials !== creds || (await access.renew())) {
        discard?.(value);
        continue;
      }
    }
    if (refused?.status === 429 && throttled < MAX_THROTTLE_RETRIES && !signal?.aborted) {
      const wait = throttleWait(refused.retryAfter, deadline);
      if (wait !== undefined) {
        throttled++;
        discard?.(value);
        await sleep(wait, signal);
        continue;
      }
    }
    return { value, attempts };
  }
}
