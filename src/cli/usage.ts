import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The config file from --config, or DIR/mixd.json from --dir, or ./mixd.json. */
export function configPathFrom(argv: { config?: string; dir?: string }): string {
  if (argv.config) return resolve(argv.config);
  const p = join(resolve(argv.dir ?? '.'), 'mixd.json');
  if (!existsSync(p)) throw new UsageError(`no config at ${p}: pass --config FILE or --dir DIR (see \`mixd init\`)`);
  return p;
}
