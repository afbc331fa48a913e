/**
 * The layers of src/ (see the preamble and DESIGN.md): a lower layer never imports a higher one.
 *
 *   scramble <- group <- node <- {central, proxy, source} <- daemon <- sim <- cli
 *
 * central, proxy and source are siblings and do not import each other. sim and cli are both on
 * top of the daemon; the CLI runs the simulator (`mixd simulate`), never the other way round.
 * src/index.ts is the public surface and may import anything. Anything seeded or simulated
 * (src/sim) is therefore unreachable from a daemon.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';

const SRC = resolve(import.meta.dirname, '..', 'src');

const RANK: Record<string, number> = {
  scramble: 0,
  group: 1,
  node: 2,
  central: 3,
  proxy: 3,
  source: 3,
  daemon: 4,
  sim: 5,
  cli: 6,
};

/** The folder (layer) of a path relative to src/, or null for src/index.ts. */
function layerOf(rel: string): string | null {
  const parts = rel.split('/');
  return parts.length === 1 ? null : (parts[0] as string);
}

/** Every relative module specifier in `source`: static imports, re-exports and dynamic imports. */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.[^'"]+)['"]/gm;
  for (let m = re.exec(source); m; m = re.exec(source)) out.push(m[1] as string);
  return out;
}

interface Violation {
  file: string;
  imports: string;
  why: string;
}

/** Checks `files` (path relative to src/ -> its relative import specifiers) against the layer rule. */
export function violations(files: Map<string, string[]>): Violation[] {
  const out: Violation[] = [];
  for (const [file, specs] of files) {
    const from = layerOf(file);
    for (const spec of specs) {
      const target = relative(SRC, resolve(SRC, dirname(file), spec)).replaceAll('\\', '/');
      if (target.startsWith('..')) {
        out.push({ file, imports: spec, why: 'leaves src/' });
        continue;
      }
      const to = layerOf(target);
      if (from === null) continue; // src/index.ts: the public top
      if (to === null) {
        out.push({ file, imports: spec, why: 'only src/index.ts may sit at the top' });
        continue;
      }
      if (!(from in RANK) || !(to in RANK)) {
        out.push({ file, imports: spec, why: `unknown layer ${!(from in RANK) ? from : to}` });
        continue;
      }
      const a = RANK[from] as number;
      const b = RANK[to] as number;
      if (b > a) out.push({ file, imports: spec, why: `${from} must not import the higher layer ${to}` });
      else if (b === a && from !== to) out.push({ file, imports: spec, why: `siblings ${from} and ${to}` });
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

t.test('no import under src/ goes against the layers', async (t) => {
  const files = new Map<string, string[]>();
  for (const f of sourceFiles(SRC)) {
    files.set(relative(SRC, f).replaceAll('\\', '/'), specifiers(readFileSync(f, 'utf8')));
  }
  t.ok(files.size > 50, `${files.size} source files read`);
  t.ok(
    [...files.values()].reduce((n, s) => n + s.length, 0) > 300,
    'their relative imports were found (the parser sees them)',
  );
  t.same(violations(files), []);
});

t.test('the checker catches each kind of violation', async (t) => {
  const found = violations(
    new Map([
      ['node/daemon.ts', ['../proxy/proxyNode.js', './config.js']],
      ['proxy/proxyNode.ts', ['../source/coverTraffic.js', '../node/routes.js']],
      ['daemon/x.ts', ['../sim/seededCrypto.js']],
      ['sim/y.ts', ['../cli/run.js', '../daemon/startDaemon.js']],
      ['group/z.ts', ['../node/ids.js', '../scramble/hex.js']],
      ['index.ts', ['./sim/testnet.js']],
    ]),
  );
  t.same(
    found.map((v) => `${v.file} -> ${v.imports}`),
    [
      'node/daemon.ts -> ../proxy/proxyNode.js',
      'proxy/proxyNode.ts -> ../source/coverTraffic.js',
      'daemon/x.ts -> ../sim/seededCrypto.js',
      'sim/y.ts -> ../cli/run.js',
      'group/z.ts -> ../node/ids.js',
    ],
  );
  t.same(specifiers("import a from './a.js';\nexport { b } from \"../b.js\";\nconst c = await import('./c.js');"), [
    './a.js',
    '../b.js',
    './c.js',
  ]);
});
