// The one retry policy (src/retry.ts): the backoff a PUT and an API call share, and the loop that
// renews credentials on a 401 and waits out a 429 for apiRequest and the port-forward tunnel.
import { describe, expect, it } from "vitest";
import type { Access, Credentials } from "../../src/access.js";
import { backoff, MAX_ATTEMPTS, MAX_THROTTLE_RETRIES, renewingThrottled, type Refusal } from "../../src/retry.js";

const creds = (token: string): Credentials => ({ kind: "bearer token (test)", headers: { Authorization: `Bearer ${token}` } });

/** An Access whose renewal hands out the next token (and counts how often it ran). */
function renewable(): Access & { renewals: number } {
  let n = 0;
  const access = {
    credentials: creds("t0"),
    renewals: 0,
    renew: async () => {
      access.renewals++;
      access.credentials = creds(`t${++n}`);
      return true;
    },
  };
  return access as unknown as Access & { renewals: number };
}

/** A `once` that answers the given refusals in turn, then "ok", recording the token of each try. */
function answers(refusals: (Refusal | undefined)[]) {
  const tokens: string[] = [];
  const once = async (c: Credentials): Promise<Refusal | "ok"> => {
    tokens.push(c.headers.Authorization!);
    return refusals.shift() ?? "ok";
  };
  return { tokens, once, refusal: (v: Refusal | "ok") => (v === "ok" ? undefined : v) };
}

describe("backoff", () => {
  it("250 ms doubling with jitter, Retry-After up to 5 s, none after MAX_ATTEMPTS or when the next try would not fit", () => {
    const first = backoff(1, undefined, 30_000)!;
    expect(first).toBeGreaterThanOrEqual(250);
    expect(first).toBeLessThan(350);
    expect(backoff(2, undefined, 30_000)).toBeGreaterThanOrEqual(500);
    expect(backoff(1, 2, 30_000)).toBe(2000);
    expect(backoff(1, 60, 30_000)).toBe(5000);
    expect(backoff(MAX_ATTEMPTS, undefined, 30_000)).toBeUndefined();
    expect(backoff(1, 2, 2400)).toBeUndefined(); // 2 s + 500 ms for the next try's answer does not fit
  });
});

describe("renewingThrottled", () => {
  it("a 401 renews the credentials once and tries again with the new ones", async () => {
    const access = renewable();
    const a = answers([{ status: 401 }]);
    const r = await renewingThrottled(access, Date.now() + 10_000, undefined, a.once, a.refusal);
    expect(r).toEqual({ value: "ok", attempts: 2 });
    expect(a.tokens).toEqual(["Bearer t0", "Bearer t1"]);
    expect(access.renewals).toBe(1);
  });

  it("a second 401 is returned, not renewed in a loop", async () => {
    const access = renewable();
    const a = answers([{ status: 401 }, { status: 401 }, { status: 401 }]);
    const r = await renewingThrottled(access, Date.now() + 10_000, undefined, a.once, a.refusal);
    expect(r).toEqual({ value: { status: 401 }, attempts: 2 });
    expect(access.renewals).toBe(1);
  });

  it("a 429 is waited out and tried again, at most MAX_THROTTLE_RETRIES times", async () => {
    const a = answers(Array.from({ length: MAX_THROTTLE_RETRIES + 2 }, () => ({ status: 429, retryAfter: 0 })));
    const r = await renewingThrottled(renewable(), Date.now() + 20_000, undefined, a.once, a.refusal);
    expect(r).toEqual({ value: { status: 429, retryAfter: 0 }, attempts: MAX_THROTTLE_RETRIES + 1 });
  });

  it("a 429 whose Retry-After would pass the deadline is returned at once", async () => {
    const a = answers([{ status: 429, retryAfter: 5 }]);
    const started = Date.now();
    const r = await renewingThrottled(renewable(), Date.now() + 2000, undefined, a.once, a.refusal);
    expect(r.attempts).toBe(1);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("no 429 is waited out once the signal is aborted", async () => {
    const a = answers([{ status: 429, retryAfter: 0 }]);
    const r = await renewingThrottled(renewable(), Date.now() + 10_000, AbortSignal.abort(), a.once, a.refusal);
    expect(r).toEqual({ value: { status: 429, retryAfter: 0 }, attempts: 1 });
  });
});
