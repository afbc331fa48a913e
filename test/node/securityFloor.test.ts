/**
 * The security floor (src/node/securityFloor.ts, issue 10 F12): the defaults pass it, each way of
 * switching cover or delays off is named, and the occupancy formula is the one documented.
 */
import t from 'tap';
import { DEFAULT_NETWORK } from '../../src/node/config.js';
import { MixdError } from '../../src/node/errors.js';
import { MIN_MIX_OCCUPANCY, mixOccupancy, NO_COVER, securityProblems } from '../../src/node/securityFloor.js';
import { createTestnet, FAST_TEST_NETWORK } from '../../src/sim/testnet.js';

t.test('the defaults pass; every weakening is named', async (t) => {
  t.same(securityProblems(DEFAULT_NETWORK), [], 'secure by default');
  t.equal(mixOccupancy(DEFAULT_NETWORK), 2, '2 · 5 loops/s · 0.2 s');
  t.ok(mixOccupancy(DEFAULT_NETWORK) >= MIN_MIX_OCCUPANCY);
  const off = securityProblems({ ...DEFAULT_NETWORK, ...NO_COVER });
  for (const k of ['lambdaPerSecond', 'loopPerSecond', 'mixLoopPerSecond', 'deliveryPerSecond', 'occupancy']) {
    t.ok(
      off.some((p) => p.includes(k)),
      `no cover: ${k} named`,
    );
  }
  t.match(securityProblems({ ...DEFAULT_NETWORK, meanDelayMs: 0 }).join(), /meanDelayMs 0 < 50/);
  t.match(securityProblems({ ...DEFAULT_NETWORK, meanDelayMs: 100 }).join(), /occupancy .* = 1 < 2/);
  t.same(securityProblems({ ...DEFAULT_NETWORK, meanDelayMs: 100, mixLoopPerSecond: 10 }), [], '10 loops at 100 ms');
  t.match(securityProblems({ ...DEFAULT_NETWORK, maxDelayMs: 900 }).join(), /maxDelayMs 900 < 5/);
});

t.test('a CS daemon refuses to start below the floor; with insecureNoCover it starts', async (t) => {
  const err = await createTestnet(null, {
    world: 'real',
    controlSockets: true,
    proxies: 0,
    sources: 0,
    network: FAST_TEST_NETWORK,
  }).catch((e: unknown) => e);
  t.ok(err instanceof MixdError, 'refused');
  t.equal((err as MixdError).code, 'INSECURE_NETWORK');
  t.match((err as MixdError).message, /lambdaPerSecond is 0.*insecureNoCover/);
  const net = await createTestnet(null, {
    world: 'real',
    controlSockets: true,
    proxies: 0,
    sources: 0,
    network: FAST_TEST_NETWORK,
    insecureNoCover: true,
  });
  t.teardown(() => net.stop());
  t.ok(net.central.central, 'starts when the operator opts out');
});
