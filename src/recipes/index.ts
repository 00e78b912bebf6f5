export {
  Session,
  SESSION_DEFAULTS,
  type SessionOptions,
  type SessionStatus,
  type SessionEvents,
} from './session.js';
export { Election, Leadership, type ElectionOptions, type LeaderInfo } from './election.js';
export { LAYOUTS, type Layout } from './etcd-layout.js';
export { Mutex, MUTEX_DEFAULTS, type MutexOptions } from './mutex.js';
export { Semaphore } from './semaphore.js';
export { RWLock } from './rwlock.js';
export { Lock } from './lock.js';
export type { HoldingStatus } from './holding.js';
export type { WaitOptions, Entry } from './queue.js';
/** What `queue()` returns: decoded entries (owner, fencing token; a semaphore's permits, an rwlock's mode). */
export type { QueueEntry } from './queue-layout.js';
export type { SemaphoreEntry } from './semaphore-layout.js';
export type { RWEntry, RWMode } from './rwlock-layout.js';
export { FencingGate } from './fencing.js';
export { closeOnSignals, type Closable, type CloseOnSignalsOptions } from './shutdown.js';
export { checkName, PREFIX } from './names.js';
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
} from './membership.js';
export {
  ShardManager,
  SHARD_DEFAULTS,
  type ShardManagerOptions,
  type ShardEvent,
  type ShardManagerEvents,
  type ShardStats,
  type ShardManagerStatus,
} from './shards.js';
export { ShardRouter, type ShardRouterOptions, type ShardRouterEvents } from './shard-router.js';
export {
  HeartbeatMesh,
  HEARTBEAT_MESH_DEFAULTS,
  type HeartbeatMeshOptions,
  type HeartbeatMeshEvents,
  type PeerHealth,
  type MeshEvent,
} from './heartbeat-mesh.js';
export type { ObservedIterator } from './event-buffer.js';
export { publishSuspicion, type PublishSuspicionOptions, type PublishedSuspicion } from './suspicion.js';
