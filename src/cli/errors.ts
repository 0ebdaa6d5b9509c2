/** Errors the CLI prints as one line on stderr, with docker's exit codes. */
export class CliError extends Error {
  /** 125: berth's own error (bad flags, daemon refused), as docker. */
  constructor(message: string, readonly exitCode = 125) { super(message); }
}

/** An answer of berthd other than 2xx: its {"message"} and the HTTP status. */
export class ApiError extends CliError {
  constructor(readonly status: number, message: string, exitCode = 1) { super(`Error response from daemon: ${message}`, exitCode); }
}

/** Ends the command with this code and nothing printed (a container's exit code). */
export class ExitCode extends Error {
  constructor(readonly code: number) { super(`exit ${code}`); }
}

/** Runs `fn` for each name, printing the name on success and each error on stderr; 1 if any failed. */
export async function each(names: string[], fn: (n: string) => Promise<void>, print = true): Promise<void> {
  let failed = false;
  for (const n of names) {
    try {
      await fn(n);
      if (print) process.stdout.write(`${n}\n`);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      failed = true;
      process.stderr.write(`${e.message}\n`);
    }
  }
  if (failed) throw new ExitCode(1);
}
