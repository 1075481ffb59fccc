import type { Variant } from '../variants.ts';

const lab = '08-transport';
const BROKER = 'broker.ts';
const PUBLISH = 'channel.sendToQueue(this.names.queue, Buffer.from(raw), { persistent: true });';
const CONFIRMS = 'await channel.waitForConfirms();';
const PREFETCH = 'await channel.prefetch(this.prefetch);';
const DEATHS = "const deaths = Number(message.properties.headers?.['x-delivery-count'] ?? 0);";
const STORE_THEN_ACK = `await this.store(record);
    const delivery = this.take(raw);`;

/** Wrong RabbitMQ brokers, as attendees write them: each must fail `npm run check -- 08` with a check that names its flaw. */
const variants: Variant[] = [
  // 08.1 push
  {
    name: 'no-confirms',
    lab,
    file: BROKER,
    find: CONFIRMS,
    replace: '',
    description:
      'publishes and returns: push() resolves once the bytes are in a socket buffer, confirmed or not',
    flaw: /must reject, not resolve/,
    checks: '08.1 a message RabbitMQ refuses',
  },
  {
    name: 'confirms-not-awaited',
    lab,
    file: BROKER,
    find: CONFIRMS,
    replace: 'channel.waitForConfirms().catch(() => {});',
    description: 'asks for the confirms but does not wait for them (and hides the nack)',
    flaw: /must reject, not resolve/,
    checks: '08.1 a message RabbitMQ refuses',
  },
  {
    name: 'transient-messages',
    lab,
    file: BROKER,
    find: PUBLISH,
    replace: 'channel.sendToQueue(this.names.queue, Buffer.from(raw));',
    description: 'publishes without persistent: a RabbitMQ restart loses every waiting task',
    flaw: /persistent \(delivery mode 2\)/,
    checks: '08.1 push puts',
  },
  // 08.2 consume and ack
  {
    name: 'prefetch-unbounded',
    lab,
    file: BROKER,
    find: PREFETCH,
    replace: '',
    description: 'no basic.qos: RabbitMQ pushes the whole queue into one worker',
    flaw: /more than its prefetch/,
    checks: '08.2 RabbitMQ sends at most',
  },
  {
    name: 'prefetch-one',
    lab,
    file: BROKER,
    find: PREFETCH,
    replace: 'await channel.prefetch(1);',
    description: 'prefetch 1 whatever the worker holds: its other slots stay empty',
    flaw: /sends up to the prefetch/,
    checks: '08.2 RabbitMQ sends at most',
  },
  {
    name: 'auto-ack',
    lab,
    file: BROKER,
    find: '{ noAck: false }',
    replace: '{ noAck: true }',
    description:
      'consumes with noAck: true: RabbitMQ forgets each message as it sends it (and sends all of them, prefetch or not), so a crash loses what the worker held',
    flaw: /lost: consumed with noAck|never succeeded|more than its prefetch/,
    checks: '08.2 a consumer that dies|08.2 kill -9',
    slow: true,
  },
  {
    name: 'never-acks',
    lab,
    file: BROKER,
    find: 'delivery.channel.ack(delivery.message);',
    replace: '',
    description:
      'stores the result and forgets the basic.ack: RabbitMQ keeps every message, and gives them all back',
    flaw: /the ack never reached RabbitMQ|the next message once the first was acked/,
    checks: '08.2 an ack stores',
  },
  {
    name: 'ack-before-result',
    lab,
    file: BROKER,
    find: STORE_THEN_ACK,
    replace: `const delivery = this.take(raw);
    if (delivery) delivery.channel.ack(delivery.message);
    await this.store(record);`,
    description:
      'acks first, then stores the result: a crash in between loses the result of a task RabbitMQ has dropped',
    flaw: /acked while its result had not reached Redis/,
    checks: '08.2 Redis first',
  },
  {
    name: 'ack-not-held-throws',
    lab,
    file: BROKER,
    find: 'if (delivery === undefined) return false;',
    replace: '',
    description:
      'acks without asking whether the message is still held: a second ack (or one after a loss) throws',
    flaw: /not held|Cannot read properties of undefined/,
    checks: '08.2 an ack for a message not held',
  },
  {
    name: 'ack-skips-redis-when-not-held',
    lab,
    file: BROKER,
    find: STORE_THEN_ACK,
    replace: `const delivery = this.take(raw);
    if (delivery === undefined) return false;
    await this.store(record);`,
    description:
      'takes the delivery before storing the result: the store comes after the await, by when a channel loss may have taken it (and an ack after the loss stores nothing)',
    flaw: /stored all the same/,
    checks: '08.2 an ack for a message not held',
  },
  // 08.3 channel loss
  {
    name: 'keeps-lost-deliveries',
    lab,
    file: BROKER,
    find: 'this.forget(channel);',
    replace: '',
    description:
      "channelLost() does nothing: what the lost channel delivered stays in the broker's buffer and runs, while RabbitMQ delivers it again",
    flaw: /handed out twice after the channel was lost/,
    checks: '08.3 a lost channel',
  },
  {
    name: 'acks-stale-tags',
    lab,
    file: BROKER,
    find: 'this.forget(channel);',
    replace: `// "Keep what it held: the link opens a new channel, and an ack goes out on whichever channel consumes now."
    const self = this as unknown as {
      buffer: Array<{ delivery: { channel: Channel } }>;
      held: Map<string, Array<{ channel: Channel; message: ConsumeMessage }>>;
    };
    const link = this.link as unknown as { consuming?: Channel };
    self.buffer = self.buffer.filter((entry) => entry.delivery.channel !== channel);
    for (const list of self.held.values()) {
      list.forEach((d, i) => {
        if (d.channel !== channel) return;
        list[i] = {
          get channel() {
            return link.consuming ?? channel;
          },
          message: d.message,
        };
      });
    }`,
    description:
      'keeps the deliveries a lost channel held and acks them on the new channel with their old tags: there a tag names another message, or none, and RabbitMQ closes the channel',
    flaw: /returns false|a second channel was lost/,
    checks: '08.3 a lost channel',
  },
  {
    name: 'redelivered-ignored',
    lab,
    file: BROKER,
    find: DEATHS,
    replace: 'const deaths = 0;',
    description: 'drops x-delivery-count: a task that kills every worker that runs it loops for ever',
    flaw: /redelivered counts how often|ran again after its worker died/,
    checks: '08.3 a message that comes back|08.3 a task whose worker died',
  },
  {
    name: 'redelivered-as-a-bit',
    lab,
    file: BROKER,
    find: DEATHS,
    replace: 'const deaths = message.fields.redelivered ? 1 : 0;',
    description:
      "counts deaths with the delivery's redelivered flag: yes or no, never 2, so the poison guard never fires",
    flaw: /redelivered counts how often|ran again after its worker died/,
    checks: '08.3 a message that comes back|08.3 a task whose worker died',
  },
];

export default variants;
