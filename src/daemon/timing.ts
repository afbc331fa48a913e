/** Timing knobs of a daemon that are not network parameters; tests and simulations shorten them. */
export interface DaemonTiming {
  keepaliveMs: number;
  directoryRefreshMs: number;
  descriptorIntervalMs: number;
  redeliverMs: number;
}

export const DEFAULT_TIMING: Readonly<DaemonTiming> = Object.freeze({
  keepaliveMs: 5000,
  directoryRefreshMs: 30_000,
  descriptorIntervalMs: 30_000,
  redeliverMs: 3000,
});
