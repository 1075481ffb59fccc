import type { Claim } from '../claims.ts';

/** Lab 06's guarantees (README) → the checks that fail when one is broken → the wrong apps and advice that prove it. */
const claims: Claim[] = [
  {
    todo: '06.1',
    checks: /^06\.1/,
    variants: [
      'offload-awaits-result',
      'offload-answers-200',
      'offload-no-status-url',
      'offload-enqueue-not-awaited',
      'offload-forgets-id',
    ],
  },
  {
    todo: '06.2',
    checks: /^06\.2/,
    variants: [
      'status-waits-for-result',
      'status-unknown-is-pending',
      'status-no-record-is-404',
      'status-only-issued',
    ],
  },
  {
    todo: '06.3',
    checks: /^06\.3/,
    variants: [
      'advice-hard-coded',
      'advice-fastest-only',
      'advice-ignores-blocked-loop',
      'advice-near-tie-runner-up-only',
      'advice-near-tie-chained',
      'advice-tie-by-order',
      'advice-near-tie-strict',
      'advice-window-from-unhealthy',
      'advice-by-wall-time',
      'advice-counts-failures',
      'advice-none-when-all-blocked',
    ],
  },
  {
    quote: 'answers 202 Accepted with a status URL',
    checks: /^06\.1 the offloading endpoint answers 202 with a status URL/,
    variants: ['offload-answers-200', 'offload-no-status-url'],
  },
  {
    quote: "It never waits for the result: that is the worker's business, in another process.",
    checks: /^06\.1 (the offloading endpoint answers 202|answers before the work is done)/,
    variants: ['offload-awaits-result'],
  },
  {
    quote: 'the task is in Redis before the 202 leaves',
    checks: /^06\.1 the 202 comes once the task is in Redis/,
    variants: ['offload-enqueue-not-awaited'],
  },
  {
    quote: 'PENDING (no worker has started it yet)',
    checks: /^06\.2 the status URL answers at once: PENDING/,
    variants: ['offload-forgets-id', 'status-no-record-is-404'],
  },
  {
    quote: 'It never waits either.',
    checks: /^06\.2 the status URL answers at once/,
    variants: ['status-waits-for-result'],
  },
  {
    quote: 'An id this app never issued and Redis never saw is a 404',
    checks: /^06\.2 (an unknown id answers 404|a task enqueued elsewhere)/,
    variants: ['status-unknown-is-pending', 'status-only-issued'],
  },
  {
    quote: 'among the pools that failed nothing',
    checks: /^06\.3 a pool whose tasks failed/,
    variants: ['advice-counts-failures'],
  },
  {
    quote: 'kept their main loop under 100 ms late',
    checks: /^06\.3 (a pool that blocked its main loop|the 10% window is measured from the fastest healthy)/,
    variants: ['advice-ignores-blocked-loop', 'advice-window-from-unhealthy', 'advice-none-when-all-blocked'],
  },
  {
    quote: 'among those within 10% of it, the one whose main loop stayed the freest',
    checks: /^06\.3 (among pools within 10%|near-ties|a near-tie)/,
    variants: [
      'advice-fastest-only',
      'advice-near-tie-runner-up-only',
      'advice-near-tie-chained',
      'advice-tie-by-order',
      'advice-near-tie-strict',
    ],
  },
  {
    quote:
      'It feeds recommendPool made-up tables where the winners are swapped, so a hard-coded answer fails.',
    checks: /^06\.3 the recommendation follows the measurements/,
    variants: ['advice-hard-coded', 'advice-by-wall-time'],
  },
  {
    quote: "/health's p99 under load with the work offloaded at most half of what it is inline",
    checks: /^06 the cheap endpoint stays fast/,
    variants: ['offload-computes-first'],
  },
];

export default claims;
