// io: what a command is given to talk to the world (its streams, environment, signals, clock).
// main() in cli.ts passes the process's; tests pass their own. The lowest floor: the command
// definitions (src/commands/*) and the session both use it, and it imports nothing.

export interface Io {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on the first Ctrl-C or SIGTERM: no new target is started, the report is still printed. */
  signal?: AbortSignal;
  /** A full garbage collection (main() passes V8's); called now and then during long fan-outs. */
  collectGarbage?: () => void;
  /** Told while levels are being put back (main() then lets a second Ctrl-C wait for it). */
  restoring?: (on: boolean) => void;
  /** The clock (tests may pass another). */
  now?: () => number;
  /**
   * Set when this run is one cluster of several (src/run/contexts.ts): `set --for` waits here,
   * together with the other clusters (one countdown, one Ctrl-C), instead of on its own. Resolves
   * with the signal's name when interrupted, undefined when `until` has come. `count` (targets
   * changed) and `what` ("kubelet at level 6") make the one countdown; both may be left out.
   */
  waitTogether?: (until: Date, count?: number, what?: string) => Promise<string | undefined>;
  /** Open the apiserver's connection while the run loads (src/preconnect.ts): main() sets it; tests that call run() in-process leave it off. */
  preconnect?: boolean;
}
