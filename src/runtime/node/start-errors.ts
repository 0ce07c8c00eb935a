/**
 * What a failed start prints: one line naming the setting and what is wrong (DESIGN.md, Configuration),
 * never a value (several settings are secrets) and never a stack trace. The Node errors a start can meet
 * (a file that is missing or a directory, a port in use) are turned into `ConfigError`s here.
 */
import { ConfigError, configError } from "../../config/parse.js";

/** `err.code` of a Node system error, if it is one. */
export function errorCode(err: unknown): string | undefined {
  const { code, cause } = (err ?? {}) as { code?: unknown; cause?: unknown };
  if (typeof code === "string") return code;
  return cause !== undefined && cause !== err ? errorCode(cause) : undefined;
}

/** What a file-system error means for the path a setting names, in words. */
export function fileProblem(err: unknown): string {
  switch (errorCode(err)) {
    case "ENOENT":
      return "does not exist";
    case "EISDIR":
      return "is a directory, not a file";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EEXIST":
      return "exists and is not a directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "is on a read-only file system";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return `cannot be used (${firstLine(err)})`;
  }
}

/** A `ConfigError` naming `setting` and `path` for a file-system error, or the error itself otherwise. */
export function settingFileError(setting: string, path: string, err: unknown): Error {
  if (err instanceof ConfigError) return err;
  if (errorCode(err) === undefined) return err instanceof Error ? err : new Error(String(err));
  return configError([`${setting}: ${path} ${fileProblem(err)}`]);
}

/** Why a listen failed, naming PORT or HOST (the address is not a secret). */
export function listenError(err: unknown, host: string, port: number): Error {
  const where = `${host}:${port}`;
  switch (errorCode(err)) {
    case "EADDRINUSE":
      return configError([`PORT: ${where} is already in use (another Cordon, or another program)`]);
    case "EACCES":
    case "EPERM":
      return configError([`PORT: no permission to listen on ${where} (ports below 1024 need privileges)`]);
    case "EADDRNOTAVAIL":
      return configError([`HOST: ${host} is not an address of this machine`]);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return configError([`HOST: ${host} cannot be resolved`]);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/** The line a failed start prints (without the `cordon: ` prefix) and its exit code. */
export function startFailure(err: unknown): { line: string; code: number } {
  if (err instanceof ConfigError) return { line: err.oneLine(), code: 2 };
  return { line: `failed to start: ${firstLine(err)} (CORDON_LOG_LEVEL=debug prints the stack)`, code: 1 };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0]?.trim() || "unknown error";
}
