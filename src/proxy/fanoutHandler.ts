/** P2's multicast step, provided by the group layer: one fan-out body in, fresh packets out. */
export interface FanoutHandler {
  handle(body: Uint8Array): void;
}
