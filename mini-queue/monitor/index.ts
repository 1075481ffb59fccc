/**
 * Workers announce themselves (heartbeats) and what their tasks do (events); `inspect`, the dashboard and the
 * demos read it. The formats are in ./types.ts.
 *
 *   import { readWorkers, subscribeEvents, dashboardUrl } from './mini-queue/monitor/index.ts';
 */
export { APP_STATS_TTL_MS, publishAppStats, publishAppStatsEvery, readAppStats } from './app-stats.ts';
export { EventBatchBuilder, type EventRef } from './batch-builder.ts';
export { decodeAppStats, decodeBatch, decodeBeat, encodeAppStats, encodeBatch, encodeBeat } from './codec.ts';
export { BEAT_INTERVAL_MS, Heartbeat } from './heartbeat.ts';
export { EventPublisher } from './publisher.ts';
export { dashboardLink, dashboardUrl, listQueues, readWorkers } from './read.ts';
export { subscribeEvents } from './subscribe.ts';
export {
  ALL_EVENTS_PATTERN,
  type AppStats,
  appStatsKey,
  DASHBOARD_KEY,
  type EventBatch,
  eventsChannel,
  type LaneState,
  queueOfKey,
  TASK_EVENT_TYPES,
  type TaskEvent,
  type TaskEventType,
  type WireBatch,
  type WireRecord,
  type WorkerBeat,
  workerKey,
  workersKey,
} from './types.ts';
