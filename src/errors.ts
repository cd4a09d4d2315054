// Errors that end a whole run, each with the exit code it maps to.
// Per-target failures are not errors: they become results (see apply.ts).

/** Bad flags or arguments: exit 2, and the usage hint is shown. */
export class UsageError extends Error {
  readonly exitCode = 2;
  override name = "UsageError";
}

/** The local configuration cannot be used (kubeconfig, token file, context): exit 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  override name = "ConfigError";
}

/** Discovery found nothing to change: exit 3. */
export class NothingMatchedError extends Error {
  readonly exitCode = 3;
  override name = "NothingMatchedError";
}

/** The run could not start its work (apiserver unreachable, discovery forbidden): exit 1. */
export class RunError extends Error {
  readonly exitCode = 1;
  override name = "RunError";
}

export type KvlogError = UsageError | ConfigError | NothingMatchedError | RunError;

export function isKvlogError(e: unknown): e is KvlogError {
  return e instanceof UsageError || e instanceof ConfigError || e instanceof NothingMatchedError || e instanceof RunError;
}
