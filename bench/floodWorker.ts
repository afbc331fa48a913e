/**
 * The flooding stranger of bench/flood.ts, in its own process so that it does not share an event
 * loop with the measurement. Usage: tsx bench/floodWorker.ts '<json FloodPlan>'; prints one JSON
 * line with what it sent when done.
 *
 * It sends, round robin over its sockets and targets, for `durationMs`: junk of random sizes,
 * Sphinx-sized frames with random content (well-formed length and version: each costs a receiver an
 * X25519 unless refused first), replays of valid packets it was given, and (to CS) padded hellos for
 * random keys and short directory requests.
 */

import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

export interface FloodPlan {
  rate: number;
  durationMs: number;
  sockets: number;
  packetSize: number;
  central: number;
  proxies: number[];
  /** Valid packets (hex) to replay, one list per proxy. */
  replays: string[][];
}

const plan = JSON.parse(process.argv[2] as string) as FloodPlan;

async function main(): Promise<void> {
  const sockets = await Promise.all(
    Array.from({ length: plan.sockets }, async () => {
      const s = dgram.createSocket({ type: 'udp4', sendBufferSize: 8 << 20 });
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      s.on('error', () => {});
      return s;
    }),
  );
  const replays = plan.replays.map((list) => list.map((h) => Buffer.from(h, 'hex')));
  // A pool of pre-made datagrams, so that sending is all the loop does.
  const sphinx = Array.from({ length: 64 }, () => {
    const b = randomBytes(plan.packetSize);
    b[0] = 1;
    return b;
  });
  const junk = Array.from({ length: 64 }, () => randomBytes(1 + Math.floor(Math.random() * 1400)));
  const hellos = Array.from({ length: 64 }, () => {
    const b = Buffer.alloc(1752);
    b.set([3, 0, 35, 2, 1, 5]);
    b.set(randomBytes(32), 6);
    return b;
  });
  const shortDirRequest = Buffer.from([2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const targets = [plan.central, ...plan.proxies];
  let attempted = 0;
  let sent = 0;
  let errors = 0;
  const done = (err: Error | null) => {
    if (err) errors++;
    else sent++;
  };
  let i = 0;
  const next = (): [Buffer, number] => {
    const t = targets[i % targets.length] as number;
    const kind = Math.floor(i / targets.length) % 4;
    const k = i++ % 64;
    const p = targets.indexOf(t) - 1;
    if (kind === 0) return [sphinx[k] as Buffer, t];
    if (kind === 1) return [junk[k] as Buffer, t];
    if (p >= 0) {
      const list = replays[p] ?? [];
      if (kind === 2 && list.length > 0) return [list[k % list.length] as Buffer, t];
      return [sphinx[(k + 7) % 64] as Buffer, t];
    }
    return [kind === 2 ? (hellos[k] as Buffer) : shortDirRequest, t];
  };
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - start;
      if (elapsed >= plan.durationMs) return resolve();
      const due = Math.floor((elapsed / 1000) * plan.rate);
      // Bounded bursts, so that the loop yields and the kernel's buffers keep up.
      for (let n = 0; n < 500 && attempted < due; n++, attempted++) {
        const [bytes, port] = next();
        (sockets[attempted % sockets.length] as dgram.Socket).send(bytes, port, '127.0.0.1', done);
      }
      setImmediate(tick);
    };
    tick();
  });
  const elapsedMs = performance.now() - start;
  await new Promise((r) => setTimeout(r, 200)); // the last send callbacks
  process.stdout.write(`${JSON.stringify({ attempted, sent, errors, elapsedMs })}\n`);
  for (const s of sockets) s.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`flood worker: ${String(err)}\n`);
  process.exit(1);
});
