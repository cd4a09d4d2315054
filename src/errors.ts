// Errors that end a whole run, each with the exit code it maps to.
// Per-target failures are not errors: they become results (see apply.ts).

export abstract class KvlogError extends Error {
  abstract readonly exitCode: number;
}

/** Bad flags or arguments: exit 2. */
export class UsageError extends KvlogError {
  readonly exitCode = 2;
  override name = "UsageError";
}

/** The local configuration cannot be used (kubeconfig, token file, context): exit 2. */
export class ConfigError extends KvlogError {
  readonly exitCode = 2;
  override name = "ConfigError";
}

/** Discovery found nothing to change: exit 3. */
export class NothingMatchedError extends KvlogError {
  readonly exitCode = 3;
  override name = "NothingMatchedError";
}

/** The run could not start its work (apiserver unreachable, discovery forbidden): exit 1. */
export class RunError extends KvlogError {
  readonly exitCode = 1;
  override name = "RunError";
}
