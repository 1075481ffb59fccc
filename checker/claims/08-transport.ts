import type { Claim } from '../claims.ts';

/** Lab 08's README, guarantee by guarantee: the checks that fail when it breaks, the variants that prove it. */
const claims: Claim[] = [
  {
    todo: '08.1',
    checks: /^08\.1 /,
    variants: ['no-confirms', 'confirms-not-awaited', 'transient-messages'],
  },
  {
    quote:
      '`push` resolves only once RabbitMQ has confirmed every message; a message RabbitMQ refuses makes it reject',
    checks: /^08\.1 a message RabbitMQ refuses|^08\.1 push puts the messages in the queue before it resolves/,
    variants: ['no-confirms', 'confirms-not-awaited'],
  },
  {
    quote:
      'Messages are **persistent** (delivery mode 2), in a durable queue, so a RabbitMQ restart keeps them',
    checks: /^08\.1 push puts the messages/,
    variants: ['transient-messages'],
  },
  {
    todo: '08.2',
    checks: /^08\.2 /,
    variants: [
      'prefetch-unbounded',
      'prefetch-one',
      'auto-ack',
      'never-acks',
      'ack-before-result',
      'ack-not-held-throws',
      'ack-skips-redis-when-not-held',
    ],
  },
  {
    quote:
      'A worker never holds more unacked messages than its prefetch, and RabbitMQ sends it up to that many',
    checks: /^08\.2 RabbitMQ sends at most the prefetch/,
    variants: ['prefetch-unbounded', 'prefetch-one'],
  },
  {
    quote:
      'A worker that dies, killed with kill -9 included, loses nothing: RabbitMQ gives what it held to the next worker at once, and only what the dead worker had begun runs twice',
    checks: /^08\.2 a consumer that dies|^08\.2 kill -9 of a worker process/,
    variants: ['auto-ack'],
  },
  {
    quote: 'The result is in Redis before RabbitMQ drops the message',
    checks: /^08\.2 Redis first, then the ack|^08\.2 an ack stores the result in Redis/,
    variants: ['ack-before-result', 'never-acks'],
  },
  {
    quote: 'An ack for a message no longer held acks nothing and returns false',
    checks: /^08\.2 an ack for a message not held/,
    variants: ['ack-not-held-throws', 'ack-skips-redis-when-not-held'],
  },
  {
    todo: '08.3',
    checks: /^08\.3 /,
    variants: ['keeps-lost-deliveries', 'acks-stale-tags', 'redelivered-ignored', 'redelivered-as-a-bit'],
  },
  {
    quote:
      'After a lost channel, nothing it delivered is handed out or acked by this worker again: an ack of it returns false and sends nothing, and no stale tag closes the next channel',
    checks: /^08\.3 a lost channel/,
    variants: ['keeps-lost-deliveries', 'acks-stale-tags'],
  },
  {
    quote:
      'A message that comes back says how often, so a task that kills every worker is failed as `WorkerLost` after `maxRedeliveries` deaths',
    checks: /^08\.3 a message that comes back says how often|^08\.3 a task whose worker died/,
    variants: ['redelivered-ignored', 'redelivered-as-a-bit'],
  },
  {
    quote: 'In `consume`, pass `{ noAck: true }`',
    checks: /^08\.2 a consumer that dies|^08\.2 kill -9 of a worker process/,
    variants: ['auto-ack'],
  },
  {
    quote: 'Leave `channelLost` empty',
    checks: /^08\.3 a lost channel/,
    variants: ['keeps-lost-deliveries'],
  },
];

export default claims;
