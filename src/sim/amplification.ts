import { assemblePages, type Directory, decodePage, mixKeyFor } from '../node/directory.js';
import { fromHex, nodeIdOf } from '../node/ids.js';
import { DIRECTORY_FRAME_BYTES } from '../node/limits.js';
import {
  type ControlMessage,
  directoryRequestFrame,
  encodeControl,
  padControl,
  signedBytes,
  sourceLinkFrameBytes,
} from '../node/wire.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { packetGeometry } from '../scramble/geometry.js';
import { createPacket } from '../scramble/packet.js';
import { systemRng } from '../scramble/rng.js';
import { decodeOrNull, forgedDescriptor, Stranger } from './stranger.js';
import type { ControlledNode } from './testnet.js';

/**
 * "Nothing unauthenticated gets more bytes back than it sent" (issue 10),
 * measured: a stranger sends every kind of datagram it can make to real
 * daemons (CS, a proxy, a source) and counts every byte that comes back to
 * its socket, from anyone (a descriptor names the stranger's own address, so
 * CS's reachability probe counts too). The figure is the largest
 * reply ÷ request over all (target, message) pairs.
 */
export interface AmplificationCase {
  target: string;
  message: string;
  sentBytes: number;
  receivedBytes: number;
  ratio: number;
}

/** Copies of each message, so that a reply to any of them is seen and the counters move clearly. */
const COPIES = 20;

type Counters = { metrics: { packetsIn: Record<string, number>; drops: Record<string, number> } };

async function handled(node: ControlledNode): Promise<number> {
  const s = await node.call<Counters>('status');
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return sum(s.metrics.packetsIn) + sum(s.metrics.drops);
}

/** Every message a stranger can make, for a network whose CS key and directory it knows (both public). */
function messages(
  crypto: CryptoBackend,
  csKey: Uint8Array,
  dir: Directory,
): Array<[string, (self: string) => Uint8Array]> {
  const geometry = packetGeometry(dir.params.packetSize, dir.params.maxHops);
  const link = sourceLinkFrameBytes(geometry.payloadBytes);
  const rnd = (n: number) => crypto.randomBytes(n);
  const key = () => crypto.ed25519PublicKey(rnd(32));
  const signedBy = (label: string, parts: Array<Uint8Array | number>) => {
    const seed = rnd(32);
    return { key: crypto.ed25519PublicKey(seed), sig: crypto.ed25519Sign(seed, signedBytes(label, csKey, ...parts)) };
  };
  const control: Array<[string, (self: string) => ControlMessage]> = [
    ['dirRequest', () => ({ type: 'dirRequest', page: 0, issuedAtMs: 0 })],
    ['dirResponse', () => ({ type: 'dirResponse', document: rnd(200), signature: rnd(64) })],
    [
      'descriptor',
      // It advertises the stranger's own address: CS's reachability probe comes back to it and counts.
      (self) => {
        const mixKeys = [dir.epoch, dir.epoch + 1].map((epoch) => ({ epoch, publicKey: crypto.x25519Base(rnd(32)) }));
        return decodeOrNull(forgedDescriptor(crypto, { address: self, mixKeys })) as ControlMessage;
      },
    ],
    ['descriptorAck', () => ({ type: 'descriptorAck', ok: true })],
    ['hello', () => ({ type: 'hello', identityKey: key() })],
    ['challenge', () => ({ type: 'challenge', nonce: rnd(32) })],
    [
      'register',
      () => {
        const nonce = rnd(32);
        const s = signedBy('register', [nonce]);
        return { type: 'register', identityKey: s.key, nonce, signature: s.sig };
      },
    ],
    ['registered', () => ({ type: 'registered', mailbox: rnd(16), cookie: rnd(16) })],
    [
      'keepalive',
      () => {
        const timeMs = Date.now();
        const cookie = rnd(16);
        const seed = rnd(32);
        const identityKey = crypto.ed25519PublicKey(seed);
        const signature = crypto.ed25519Sign(seed, signedBytes('keepalive', csKey, identityKey, timeMs, cookie));
        return { type: 'keepalive', identityKey, timeMs, cookie, signature };
      },
    ],
    ['delivery', () => ({ type: 'delivery', sealed: rnd(1744) })],
    [
      'ack',
      () => {
        const seed = rnd(32);
        const identityKey = crypto.ed25519PublicKey(seed);
        const timeMs = Date.now();
        const ids = [1, 2, 3];
        const signature = crypto.ed25519Sign(seed, signedBytes('ack', csKey, identityKey, timeMs, ...ids));
        return { type: 'ack', identityKey, timeMs, ids, signature };
      },
    ],
    ['error', () => ({ type: 'error', code: 'not_registered', text: 'register first' })],
    ['cookie', () => ({ type: 'cookie', cookie: rnd(16) })],
    ['boxed', () => ({ type: 'boxed', sealed: rnd(100) })],
    ['probe', () => ({ type: 'probe', nonce: rnd(32) })],
    ['probeReply', () => ({ type: 'probeReply', nonce: rnd(32) })],
  ];
  const rng = systemRng(crypto);
  const sphinxTo = (node: Directory['central'], final: 'drop' | 'relay') => {
    const publicKey = mixKeyFor(node, dir.epoch) as Uint8Array;
    const next = nodeIdOf(crypto, dir.central.identityKey);
    const cmd = final === 'drop' ? ({ kind: 'drop' } as const) : ({ kind: 'relay', next, delayMs: 0 } as const);
    const route = [{ publicKey, command: cmd }];
    if (final === 'relay')
      route.push({ publicKey: mixKeyFor(dir.central, dir.epoch) as Uint8Array, command: { kind: 'drop' } });
    return createPacket(crypto, geometry, route, new Uint8Array(0), rng);
  };
  const out: Array<[string, (self: string) => Uint8Array]> = [
    ['junk, 1 byte', () => rnd(1)],
    ['junk, 60000 bytes', () => rnd(60_000)],
    [`junk Sphinx frame, ${geometry.packetSize} bytes`, () => Uint8Array.of(1, ...rnd(geometry.packetSize - 1))],
    ['valid Sphinx packet to CS', () => sphinxTo(dir.central, 'drop')],
    ['legacy 3-byte dirRequest', () => Uint8Array.of(2, 1, 1)],
    ['padded dirRequest', () => directoryRequestFrame(0, 0)],
  ];
  const proxy = dir.proxies[0];
  if (proxy) out.push(['valid Sphinx packet through a proxy', () => sphinxTo(proxy, 'relay')]);
  for (const [name, make] of control) {
    out.push([`${name} (unpadded)`, (self) => encodeControl(make(self))]);
    out.push([
      `${name} (padded to the link)`,
      (self) => padControl(encodeControl(make(self)), Math.max(link, DIRECTORY_FRAME_BYTES)),
    ]);
  }
  return out;
}

/** Fetches the (public) directory, every page of it, as any stranger can. */
async function fetchDirectory(csPort: number): Promise<Directory> {
  const s = await Stranger.open();
  const pages = () => s.controls().flatMap((c) => (c.msg.type === 'dirResponse' ? [decodePage(c.msg.document)] : []));
  try {
    s.send(directoryRequestFrame(0, 0), csPort);
    await s.next(() => true);
    const first = pages()[0];
    if (!first) throw new Error('no directory');
    for (let i = 1; i < first.pageCount; i++) s.send(directoryRequestFrame(i, first.issuedAtMs), csPort);
    const deadline = Date.now() + 5000;
    while (pages().length < first.pageCount && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return assemblePages(pages());
  } finally {
    await s.close();
  }
}

export async function measureAmplification(
  crypto: CryptoBackend,
  targets: Array<{ name: string; node: ControlledNode }>,
  central: ControlledNode,
  centralKeyHex: string,
): Promise<AmplificationCase[]> {
  const csPort = central.ready.listen.port;
  const dir = await fetchDirectory(csPort);
  const csKey = fromHex(centralKeyHex);
  const cases: AmplificationCase[] = [];
  for (const { name, node } of targets) {
    const port = node.ready.listen.port;
    for (const [message, make] of messages(crypto, csKey, dir)) {
      const s = await Stranger.open();
      try {
        const frames = Array.from({ length: COPIES }, () => make(s.address));
        const before = await handled(node);
        for (const f of frames) s.send(f, port);
        // Every copy handled (counted) by the target...
        const deadline = Date.now() + 10_000;
        while ((await handled(node)) - before < COPIES && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        // ...and, at CS, everything it sent in reply before it answers this (it handles datagrams in order).
        const sentinel = await Stranger.open();
        sentinel.send(directoryRequestFrame(0, 0), csPort);
        await sentinel.next(() => true).catch(() => null);
        await sentinel.close();
        const sentBytes = s.bytesOut;
        const receivedBytes = s.bytesIn;
        cases.push({ target: name, message, sentBytes, receivedBytes, ratio: receivedBytes / sentBytes });
      } finally {
        await s.close();
      }
    }
  }
  return cases;
}
