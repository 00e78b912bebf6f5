/** The multi-process shard suite on a SQLite file (ttl 1 s). */
import { shardProcessSuite } from './shards-process-suite.js';

shardProcessSuite('SQLite', 1000);
