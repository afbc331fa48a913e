import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  ConfigError,
  type ConfigOverrides,
  DEFAULT_NETWORK,
  formatHostPort,
  loadConfig,
  parseHostPort,
  validateConfig,
} from '../../src/node/config.js';
import { tempDir } from './fixtures/tempDir.js';

const CS_KEY = 'ab'.repeat(32);

function writeConfig(t: { teardown(fn: () => void): void }, body: unknown): string {
  const file = path.join(tempDir(t, 'config'), 'etc', 'node.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

/** Loads and returns the ConfigError it must raise (anything else, or success, throws). */
function configError(
  t: { teardown(fn: () => void): void },
  body: unknown,
  overrides: ConfigOverrides = {},
): ConfigError {
  const file = writeConfig(t, body);
  try {
    loadConfig(file, overrides);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but the config loaded');
}

const minimal = {
  central: { role: 'central', listen: '127.0.0.1:7000', dataDir: 'cs-data' },
  proxy: { role: 'proxy', listen: '[::1]:7001', dataDir: './p', central: { address: '10.0.0.1:7000', key: CS_KEY } },
  source: {
    role: 'source',
    listen: '0.0.0.0:0',
    dataDir: '/var/lib/mixd',
    central: { address: '[::1]:7000', key: CS_KEY },
  },
};

t.test('minimal central config gets every default', async (t) => {
  const file = writeConfig(t, minimal.central);
  const c = loadConfig(file);
  t.equal(c.role, 'central');
  t.same(c.listen, { host: '127.0.0.1', port: 7000, family: 4 });
  t.equal(c.dataDir, path.join(path.dirname(file), 'cs-data'), 'relative dataDir resolved against the file folder');
  t.equal(c.logLevel, 'info');
  t.equal(c.metrics, null);
  t.equal(c.crypto, 'sodium');
  t.equal(c.central, null);
  t.same(c.network, DEFAULT_NETWORK);
  t.same(c.queue, { capacity: 10000 });
});

t.test('minimal proxy and source configs', async (t) => {
  const p = loadConfig(writeConfig(t, minimal.proxy));
  t.same(p.listen, { host: '::1', port: 7001, family: 6 });
  t.same(p.central?.address, { host: '10.0.0.1', port: 7000, family: 4 });
  t.same(p.central?.key, new Uint8Array(32).fill(0xab));
  const s = loadConfig(writeConfig(t, minimal.source));
  t.equal(s.dataDir, '/var/lib/mixd', 'absolute dataDir kept');
  t.equal(s.listen.port, 0, 'listen may ask for an ephemeral port');
  t.equal(s.central?.address.family, 6);
});

t.test('a central section is ignored for the central role', async (t) => {
  const c = loadConfig(writeConfig(t, { ...minimal.central, central: { address: 'junk' } }));
  t.equal(c.central, null);
});

t.test('every kind of error names its field', async (t) => {
  const expectFieldError = (body: unknown, field: string | null, overrides?: ConfigOverrides) => {
    const err = configError(t, body, overrides);
    t.equal(err.field, field);
    if (field !== null) t.ok(err.message.startsWith(`config field "${field}": `), err.message);
    return err.message;
  };
  const msg = expectFieldError({ ...minimal.central, network: { packetSize: 'abc' } }, 'network.packetSize');
  t.equal(msg, 'config field "network.packetSize": must be an integer between 512 and 65000 (got "abc")');
  t.equal(
    expectFieldError({ ...minimal.central, listen: '7000' }, 'listen'),
    'config field "listen": expected HOST:PORT such as 127.0.0.1:7000 or [::1]:7000 (got "7000")',
  );
  t.match(
    expectFieldError({ ...minimal.central, foo: 1 }, 'foo'),
    /unknown field; valid fields here are role, listen, dataDir, logLevel, metrics, crypto, central, network, queue, bridges, groupRotationSeconds, insecureNoCover, admission$/,
  );
  t.match(expectFieldError({ ...minimal.central, network: { packetsize: 2048 } }, 'network.packetsize'), 'packetSize');
  t.match(
    expectFieldError({ ...minimal.proxy, central: { ...minimal.proxy.central, port: 1 } }, 'central.port'),
    'unknown field',
  );
  t.match(
    expectFieldError({ listen: '127.0.0.1:1', dataDir: 'd' }, 'role'),
    'required; one of "central", "proxy", "source"',
  );
  t.match(expectFieldError({ ...minimal.central, role: 'mix' }, 'role'), '(got "mix")');
  t.match(expectFieldError({ role: 'central', dataDir: 'd' }, 'listen'), 'required');
  t.match(expectFieldError({ role: 'central', listen: '127.0.0.1:1' }, 'dataDir'), 'required');
  t.match(expectFieldError({ ...minimal.central, dataDir: 5 }, 'dataDir'), 'non-empty path');
  t.match(expectFieldError({ ...minimal.central, logLevel: 'verbose' }, 'logLevel'), '"trace"');
  t.match(expectFieldError({ ...minimal.central, crypto: 'openssl' }, 'crypto'), '"noble"');
  t.match(expectFieldError({ ...minimal.central, metrics: 'localhost:9100' }, 'metrics'), 'IP address, not a name');
  t.match(expectFieldError({ ...minimal.central, listen: '127.0.0.1:70000' }, 'listen'), 'PORT must be 0..65535');
  t.match(expectFieldError({ ...minimal.central, listen: '::1:7000' }, 'listen'), 'HOST:PORT');
  t.match(expectFieldError({ ...minimal.central, listen: '[127.0.0.1]:7000' }, 'listen'), 'IP address');
  t.match(
    expectFieldError({ role: 'proxy', listen: '127.0.0.1:1', dataDir: 'd' }, 'central'),
    'required for role "proxy"',
  );
  t.match(
    expectFieldError({ ...minimal.source, central: { ...minimal.source.central, key: 'abcd' } }, 'central.key'),
    '64 hex characters',
  );
  t.match(expectFieldError({ ...minimal.source, central: { key: CS_KEY } }, 'central.address'), 'required');
  t.match(
    expectFieldError(
      { ...minimal.source, central: { ...minimal.source.central, address: '10.0.0.1:0' } },
      'central.address',
    ),
    'PORT must be 1..65535',
  );
  t.match(expectFieldError({ ...minimal.central, network: { maxHops: 17 } }, 'network.maxHops'), 'between 1 and 16');
  t.match(
    expectFieldError({ ...minimal.central, network: { maxHops: 16, packetSize: 1024 } }, 'network.packetSize'),
    /at least 1329 to fit 16 hops/,
  );
  t.match(
    expectFieldError({ ...minimal.central, network: { meanDelayMs: 100, maxDelayMs: 50 } }, 'network.maxDelayMs'),
    'at least network.meanDelayMs (100)',
  );
  t.match(
    expectFieldError({ ...minimal.central, network: { epochSeconds: 600, graceSeconds: 600 } }, 'network.graceSeconds'),
    'between 0 and 599',
  );
  t.match(
    expectFieldError({ ...minimal.central, network: { lambdaPerSecond: -1 } }, 'network.lambdaPerSecond'),
    'number',
  );
  t.match(
    expectFieldError({ ...minimal.central, network: { meanDelayMs: null } }, 'network.meanDelayMs'),
    '(got null)',
  );
  t.match(expectFieldError({ ...minimal.central, queue: { capacity: 0 } }, 'queue.capacity'), 'between 1 and');
  t.match(expectFieldError({ ...minimal.central, network: [] }, 'network'), 'must be an object');
  t.match(expectFieldError([1, 2], null), 'JSON object');
  t.match(expectFieldError('{"role": "central",', null), 'not valid JSON');
  t.match(expectFieldError(minimal.central, 'listen', { listen: 'nope' }), '(got "nope")', 'overrides are validated');
  t.match(expectFieldError(minimal.central, 'bogus', { bogus: 1 } as ConfigOverrides), 'unknown field');
});

t.test('a missing file is a ConfigError naming the path', async (t) => {
  const file = path.join(tempDir(t, 'config'), 'absent.json');
  t.throws(() => loadConfig(file), { name: 'ConfigError', message: new RegExp(`${file}: no such file`) });
});

t.test('overrides win, merge into nested sections, and undefined means unset', async (t) => {
  const file = writeConfig(t, {
    ...minimal.proxy,
    logLevel: 'warn',
    metrics: '127.0.0.1:9100',
    network: { packetSize: 4096, meanDelayMs: 20 },
  });
  const c = loadConfig(file, {
    listen: '127.0.0.1:9999',
    logLevel: undefined,
    metrics: null,
    network: { meanDelayMs: 5 },
    central: { address: '10.9.9.9:7000' },
  });
  t.equal(c.listen.port, 9999);
  t.equal(c.logLevel, 'warn', 'undefined override leaves the file value');
  t.equal(c.metrics, null, 'null override clears');
  t.equal(c.network.packetSize, 4096, 'sibling kept');
  t.equal(c.network.meanDelayMs, 5);
  t.equal(c.central?.address.host, '10.9.9.9');
  t.same(c.central?.key, new Uint8Array(32).fill(0xab), 'sibling of the overridden field kept');
});

t.test('a dataDir override is relative to the working directory, like any CLI path', async (t) => {
  const file = writeConfig(t, minimal.central);
  t.equal(loadConfig(file, { dataDir: 'here' }).dataDir, path.resolve(process.cwd(), 'here'));
});

t.test('parseHostPort', async (t) => {
  t.same(parseHostPort('192.168.1.2:65535'), { host: '192.168.1.2', port: 65535, family: 4 });
  t.same(parseHostPort('[fe80::1]:1'), { host: 'fe80::1', port: 1, family: 6 });
  t.equal(formatHostPort(parseHostPort('[::1]:7000')), '[::1]:7000');
  t.equal(formatHostPort(parseHostPort('127.0.0.1:7000')), '127.0.0.1:7000');
  for (const bad of [
    '',
    '127.0.0.1',
    ':7000',
    '127.0.0.1:',
    '127.0.0.1:0',
    '256.0.0.1:1',
    'host:1',
    '[::1]',
    '[:::]:1',
    5,
  ]) {
    t.throws(
      () => parseHostPort(bad, 'central.address'),
      { name: 'ConfigError', field: 'central.address' },
      String(bad),
    );
  }
  t.equal(parseHostPort('127.0.0.1:0', 'x', { allowPortZero: true }).port, 0);
});

t.test('bridges: a source may bind groups to local UDP ports; errors name the entry', async (t) => {
  const base = {
    role: 'source',
    listen: '127.0.0.1:0',
    dataDir: '.',
    central: { address: '127.0.0.1:7000', key: 'ab'.repeat(32) },
  };
  const ok = validateConfig(
    { ...base, bridges: [{ group: 'friends', listen: '127.0.0.1:9000', app: '127.0.0.1:9001' }] },
    '/tmp',
  );
  t.equal(ok.bridges.length, 1);
  t.equal(ok.bridges[0]?.listen.port, 9000);
  t.throws(
    () => validateConfig({ ...base, bridges: [{ group: 'friends', listen: 'nope', app: '127.0.0.1:9001' }] }, '/tmp'),
    /config field "bridges\[0\]\.listen"/,
  );
  t.throws(() => validateConfig({ ...base, bridges: {} }, '/tmp'), /config field "bridges"/);
  t.throws(
    () =>
      validateConfig(
        {
          role: 'central',
          listen: '127.0.0.1:0',
          dataDir: '.',
          bridges: [{ group: 'g', listen: '127.0.0.1:1', app: '127.0.0.1:2' }],
        },
        '/tmp',
      ),
    /only a source has group bridges/,
  );
});

t.test('the example configs under config/ are valid', async (t) => {
  for (const role of ['central', 'proxy', 'source']) {
    const file = path.join(import.meta.dirname, '..', '..', 'config', `${role}.example.json`);
    const c = loadConfig(file);
    t.equal(c.role, role, `${role}.example.json loads`);
  }
});

t.test('crypto backend: the config wins, else MIXD_CRYPTO, else sodium', async (t) => {
  const base = { role: 'central', listen: '127.0.0.1:0', dataDir: '.' };
  const saved = process.env.MIXD_CRYPTO;
  t.teardown(() => {
    if (saved === undefined) delete process.env.MIXD_CRYPTO;
    else process.env.MIXD_CRYPTO = saved;
  });
  delete process.env.MIXD_CRYPTO;
  t.equal(validateConfig(base, '/tmp').crypto, 'sodium');
  process.env.MIXD_CRYPTO = 'noble';
  t.equal(validateConfig(base, '/tmp').crypto, 'noble');
  t.equal(validateConfig({ ...base, crypto: 'sodium' }, '/tmp').crypto, 'sodium');
});

t.test('secure by default: CS refuses parameters below the floor unless insecureNoCover (F12)', async (t) => {
  const c = validateConfig(minimal.central, '/');
  t.equal(c.insecureNoCover, false, 'off by default');
  t.ok(c.network.lambdaPerSecond > 0 && c.network.mixLoopPerSecond > 0 && c.network.deliveryPerSecond > 0);
  const noCover = { ...minimal.central, network: { lambdaPerSecond: 0 } };
  const err = configError(t, noCover);
  t.equal(err.field, 'network');
  t.match(err.message, /lambdaPerSecond is 0 \(cover off\).*insecureNoCover/);
  t.match(configError(t, { ...minimal.central, network: { meanDelayMs: 20 } }).message, /meanDelayMs 20 < 50/);
  t.equal(validateConfig({ ...noCover, insecureNoCover: true }, '/').network.lambdaPerSecond, 0, 'explicit opt-out');
  t.equal(loadConfig(writeConfig(t, noCover), { insecureNoCover: true }).insecureNoCover, true, 'or by flag');
  t.equal(
    validateConfig({ ...minimal.source, network: { lambdaPerSecond: 0 } }, '/').insecureNoCover,
    false,
    'only CS checks its own network section',
  );
  t.equal(configError(t, { ...minimal.central, insecureNoCover: 'yes' }).field, 'insecureNoCover');
});

t.test('admission: open by default; an allow-list, caps; CS only', async (t) => {
  t.same(validateConfig(minimal.central, '/').admission, { allow: 'any', maxProxies: 1000, maxProxiesPerIp: 8 });
  const key = 'CD'.repeat(32);
  const c = validateConfig({ ...minimal.central, admission: { allow: [key], maxProxiesPerIp: 2 } }, '/');
  t.same(c.admission, { allow: [key.toLowerCase()], maxProxies: 1000, maxProxiesPerIp: 2 });
  t.equal(configError(t, { ...minimal.central, admission: { allow: ['xyz'] } }).field, 'admission.allow');
  t.equal(configError(t, { ...minimal.central, admission: { maxProxies: 1001 } }).field, 'admission.maxProxies');
  t.equal(configError(t, { ...minimal.central, admission: { foo: 1 } }).field, 'admission.foo');
  t.equal(configError(t, { ...minimal.proxy, admission: {} }).field, 'admission');
});

t.test('bridges must stay on loopback (F14)', async (t) => {
  for (const [listen, app, field] of [
    ['127.0.0.1:9000', '10.0.0.5:9001', 'bridges[0].app'],
    ['0.0.0.0:9000', '127.0.0.1:9001', 'bridges[0].listen'],
  ] as const) {
    const err = configError(t, { ...minimal.source, bridges: [{ group: 'g', listen, app }] });
    t.equal(err.field, field);
    t.match(err.message, /loopback/);
  }
  t.equal(
    validateConfig({ ...minimal.source, bridges: [{ group: 'g', listen: '[::1]:9000', app: '127.0.0.1:9001' }] }, '/')
      .bridges.length,
    1,
  );
});
