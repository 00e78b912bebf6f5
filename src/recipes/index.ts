export {
  Session,
  SESSION_DEFAULTS,
  type SessionOptions,
  type SessionStatus,
  type SessionEvents,
} from './coordination/session.js';
export { Election, Leadership, type ElectionOptions, type LeaderInfo } from './coordination/election.js';
export { LAYOUTS, type Layout } from './coordination/etcd-layout.js';
export { Mutex, MUTEX_DEFAULTS, type MutexOptions } from './coordination/mutex.js';
export { Semaphore } from './coordination/semaphore.js';
export { RWLock } from './coordination/rwlock.js';
export { Lock } from './coordination/lock.js';
export { FOLLOW_DELAY_MS, type HoldingStatus } from './coordination/holding.js';
export type { WaitOptions, Entry } from './coordination/queue.js';
/** What `queue()` returns: decoded entries (owner, fencing token; a semaphore's permits, an rwlock's mode). */
export type { QueueEntry } from './coordination/queue-layout.js';
export type { SemaphoreEntry } from './coordination/semaphore-layout.js';
export type { RWEntry, RWMode } from './coordination/rwlock-layout.js';
export { FencingGate } from './coordination/fencing.js';
export { closeOnSignals, type Closable, type CloseOnSignalsOptions } from './coordination/shutdown.js';
export {
  Membership,
  Member,
  MEMBERSHIP_DEFAULTS,
  type MemberMetadata,
  type MemberInfo,
  type MembershipEvent,
  type MembershipEvents,
  type MembershipOptions,
  type MemberStatus,
} from './fleet/membership.js';
export {
  ShardManager,
  SHARD_DEFAULTS,
  type ShardManagerOptions,
  type ShardEvent,
  type ShardManagerEvents,
  type ShardStats,
  type ShardManagerStatus,
} from './fleet/shards.js';
export { ShardRouter, type ShardRouterOptions, type ShardRouterEvents } from './fleet/shard-router.js';
export {
  HeartbeatMesh,
  HEARTBEAT_MESH_DEFAULTS,
  type HeartbeatMeshOptions,
  type HeartbeatMeshEvents,
  type PeerHealth,
  type MeshEvent,
} from './fleet/heartbeat-mesh.js';
export type { ObservedIterator } from './event-buffer.js';
export {
  publishSuspicion,
  type PublishSuspicionOptions,
  type PublishedSuspicion,
} from './fleet/suspicion.js';
