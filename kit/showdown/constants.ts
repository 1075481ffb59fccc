/**
 * Lab 06's bar and the sizes of its runs: the demo measures with them and the report states them, so both say
 * the same.
 */

/** The web demo's bar: /health's p99 with the work offloaded is at most 1/RATIO of its p99 with the work inline. */
export const RATIO = 10;
/** CPU per thumbnail in the web demo, ms: long enough that a request computing it holds everyone else up. */
export const HEAVY_MS = 80;
export const HEAVY_VISITORS = 3;
export const CHEAP_VISITORS = 4;
export const THINK_MS = 5;
export const RUSH_MS = 3000;
/** The showdown: loopback server latency, CPU per task, and the time each pool gets per workload, ms. */
export const IO_LATENCY_MS = 50;
export const CPU_MS = 25;
export const WINDOW_MS = 2000;
export const MAX_PER_WINDOW = 2000;
/**
 * Lanes of the one-thread pools: Little's law allows them 25 / 50 ms = 500 I/O tasks a second, more than one
 * core can feed here; more lanes would only make a CPU-bound window's tail longer.
 */
export const CHEAP_LANES = 25;
