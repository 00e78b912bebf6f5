/**
 * The one server-side script of the Redis backend. Every store call is one EVALSHA of it (the
 * first argument names the call), so each call is atomic on the server: its compares, writes,
 * the revision it takes and its change-log entry happen together or not at all.
 *
 * Arguments: 1. the call, 2. the change log's retention in revisions, 3. the run id of the Redis
 * process the caller's connection reached, read on that connection ('' if the caller does not
 * know it), then the call's own arguments.
 *
 * Keys (all under one hash tag, so a Redis Cluster keeps a store on one shard):
 * 1. meta   hash: format, runid (the Redis process that last wrote), rev, compact, leaseSeq,
 *           epochs, due (no lease expires before this, in µs of the server's clock)
 * 2. kv     hash: key -> record `create,mod,version,lease;value`
 * 3. idx    sorted set, every score 0: the keys, in byte order (ZRANGEBYLEX)
 * 4. leases sorted set: lease id -> expiry, in µs of the server's clock (TIME)
 * 5. lttl   hash: lease id -> ttl ms
 * 6. lkeys  sorted set, every score 0: `lease key`, the keys attached to each lease
 * 7. log    stream: one entry per revision, id `rev-0`, field `e` = the revision's events
 *
 * Before anything else every call checks the epoch: the run id of the Redis process against the
 * one recorded with the data. A different one means the server restarted (or a replica took over)
 * since the last write, possibly without the last writes; a missing meta means the data is gone.
 * Either way the revision moves to at least the server's clock in microseconds: every revision
 * handed out before is below that (a store takes fewer than one revision per microsecond of its
 * life, and each epoch starts at the clock), so no revision, fencing token or lease id is ever
 * handed out twice. The history before that point is compacted, so watches that were behind it
 * fail with TENURE_COMPACTED and re-read instead of missing the lost writes. After a restart every
 * lease is revoked: a write its holder saw applied (deleting its lock key, say) may be gone, and
 * only a new session knows what it holds.
 *
 * The run id costs an `INFO server` (generating and searching that text was about a fifth of a
 * put's server time), so a caller passes the run id it read on its own connection: a connection
 * reaches one Redis process for its whole life, so when that id equals the recorded one the data
 * was last written by this very process and nothing was lost. Any other case (an unknown id, a
 * different one) asks INFO, and only INFO's answer decides.
 *
 * Then it reaps leases whose expiry passed on the server's clock, one revision per lease. `due`
 * (at most the earliest expiry: a grant lowers it, a keepalive only moves an expiry later) lets a
 * call skip that look while no lease can have expired; the periodic `reap` call always looks.
 */
export const STORE_SCRIPT = String.raw`
local META, KV, IDX, LEASES, LTTL, LKEYS, LOG = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local FORMAT = '1'
-- No lease: the earliest expiry is never (1e18 µs is year 33658).
local NEVER = 1e18
local cmd = ARGV[1]
local retain = tonumber(ARGV[2])
local function fmt(n) return string.format('%.0f', n) end

local t = redis.call('TIME')
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Lease expiries are kept in microseconds: rounding the clock down to milliseconds let a lease
-- expire up to 1 ms before its ttl had run. Scores go to Redis through fmt(): Lua's default
-- number formatting keeps 14 digits, too few for microseconds since 1970.

local meta = redis.call('HMGET', META, 'format', 'runid', 'rev', 'compact', 'leaseSeq', 'due')
if meta[1] and meta[1] ~= FORMAT then
  return redis.error_reply('TENURE_FORMAT ' .. META .. ' has format ' .. tostring(meta[1]))
end
local runid = ARGV[3]
if (not meta[1]) or meta[2] ~= runid then
  runid = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
end
local rev, compact, leaseSeq, due
-- Meta fields written back at the end, only those that changed.
local revSet, compactSet, seqSet, dueSet = false, false, false, false
local restarted = false
if (not meta[1]) or meta[2] ~= runid then
  if not meta[1] then
    -- No meta: a new store, or one whose data was lost. Keys of another kind at our names
    -- mean the prefix is used by something else: refuse rather than overwrite.
    for i = 2, 7 do
      local kind = redis.call('TYPE', KEYS[i])['ok']
      local want = ({'hash', 'zset', 'zset', 'hash', 'zset', 'stream'})[i - 1]
      if kind ~= 'none' and kind ~= want then
        return redis.error_reply('TENURE_FOREIGN ' .. KEYS[i] .. ' is a ' .. kind)
      end
    end
  end
  local base = math.max(tonumber(meta[3] or '0'), tonumber(meta[5] or '0'), nowUs)
  rev, compact, leaseSeq, due = base, base, base, 0
  redis.call('DEL', LOG)
  redis.call('XADD', LOG, fmt(base) .. '-0', 'epoch', runid)
  redis.call('HSET', META, 'format', FORMAT, 'runid', runid)
  redis.call('HINCRBY', META, 'epochs', 1)
  revSet, compactSet, seqSet = true, true, true
  restarted = meta[1] ~= false
else
  rev, compact, leaseSeq = tonumber(meta[3]), tonumber(meta[4]), tonumber(meta[5])
  -- Written by a script of an earlier release (without due): look now.
  due = meta[6] and tonumber(meta[6]) or 0
end

-- Records read by this call (false: no such key), so that a key is read from Redis once.
local records = {}
local function record(key)
  local rec = records[key]
  if rec == nil then
    rec = redis.call('HGET', KV, key)
    records[key] = rec
  end
  return rec
end

local function parse(rec)
  local c, m, v, l, pos = string.match(rec, '^(%d+),(%d+),(%d+),(%d*);()')
  return tonumber(c), tonumber(m), tonumber(v), l, pos
end

local function commit(parts)
  rev = rev + 1
  revSet = true
  local id = fmt(rev) .. '-0'
  if rev - compact > retain then
    -- Trimmed in the same command: XADD ... MINID ~ is XTRIM MINID ~ after the append.
    compact = rev - retain
    compactSet = true
    redis.call('XADD', LOG, 'MINID', '~', fmt(compact + 1) .. '-0', id, 'e', table.concat(parts))
  else
    redis.call('XADD', LOG, id, 'e', table.concat(parts))
  end
end

local function delEvent(key) return 'd' .. #key .. ':' .. key end

local function revokeLease(id)
  local lo, hi = '[' .. id .. ' ', '(' .. id .. '!'
  local members = redis.call('ZRANGEBYLEX', LKEYS, lo, hi)
  redis.call('ZREM', LEASES, id)
  redis.call('HDEL', LTTL, id)
  if #members == 0 then return end
  local parts = {}
  for _, m in ipairs(members) do
    local key = string.sub(m, #id + 2)
    redis.call('HDEL', KV, key)
    redis.call('ZREM', IDX, key)
    records[key] = false
    parts[#parts + 1] = delEvent(key)
  end
  redis.call('ZREMRANGEBYLEX', LKEYS, lo, hi)
  commit(parts)
end

if restarted then
  -- Writes may have been lost: a key its holder deleted can be back, held by a lease that is still
  -- renewed, and no holder knows of it. Every lease ends, so every session learns it at its next
  -- keepalive and takes what it needs again.
  for _, id in ipairs(redis.call('ZRANGE', LEASES, 0, -1)) do revokeLease(id) end
end

if nowUs >= due or cmd == 'reap' then
  local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', fmt(nowUs), 'LIMIT', 0, 64)
  for _, id in ipairs(expired) do revokeLease(id) end
  local first = redis.call('ZRANGE', LEASES, 0, 0, 'WITHSCORES')
  local nextDue = NEVER
  if #first > 0 then nextDue = tonumber(first[2]) end
  if nextDue ~= due then
    due = nextDue
    dueSet = true
  end
end

local function live(id)
  local score = redis.call('ZSCORE', LEASES, id)
  return score and tonumber(score) > nowUs
end

local function saveMeta()
  local args = { META }
  if revSet then args[#args + 1] = 'rev'; args[#args + 1] = fmt(rev) end
  if compactSet then args[#args + 1] = 'compact'; args[#args + 1] = fmt(compact) end
  if seqSet then args[#args + 1] = 'leaseSeq'; args[#args + 1] = fmt(leaseSeq) end
  if dueSet then args[#args + 1] = 'due'; args[#args + 1] = fmt(due) end
  if #args > 1 then redis.call('HSET', unpack(args)) end
end

-- Byte order, whatever collation the server's locale gives Lua's string comparison.
local function cmpBytes(a, b)
  if a == b then return 0 end
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x - y end
  end
  return #a - #b
end

local function prefixBounds(p)
  if p == '' then return '-', '+' end
  return '[' .. p, '(' .. p .. '\255'
end

local result
if cmd == 'txn' then
  -- ARGV[4]: the number of compares, then 4 arguments each; the number of success ops, 4 each;
  -- the number of failure ops, 4 each.
  local nc = tonumber(ARGV[4])
  local ok = true
  for i = 0, nc - 1 do
    local at = 5 + i * 4
    local key, target, op, value = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
    local rec = record(key)
    local order
    if target == 'v' then
      if not rec then ok = false else
        local _, _, _, _, pos = parse(rec)
        order = cmpBytes(string.sub(rec, pos), value)
      end
    elseif target == 'l' then
      local lease = ''
      if rec then local _, _, _, l = parse(rec); lease = l end
      if lease == value then order = 0 else order = 1 end
    else
      local c, m, v = 0, 0, 0
      if rec then c, m, v = parse(rec) end
      local actual = ({ V = v, c = c, m = m })[target]
      order = actual - tonumber(value)
    end
    if order ~= nil then
      if (op == '=' and order ~= 0) or (op == '!' and order == 0) or (op == '<' and order >= 0)
        or (op == '>' and order <= 0) then ok = false end
    end
    if not ok then break end
  end
  local argi = 5 + nc * 4
  local ns = tonumber(ARGV[argi])
  local first, count = argi + 1, ns
  if not ok then
    local nf_at = argi + 1 + ns * 4
    first, count = nf_at + 1, tonumber(ARGV[nf_at])
  end
  -- Every lease a put names must be alive before anything is written.
  for i = 0, count - 1 do
    local at = first + i * 4
    if ARGV[at] == 'p' and ARGV[at + 3] ~= '' and not live(ARGV[at + 3]) then
      saveMeta()
      return { -1, ARGV[at + 3] }
    end
  end
  local nextRev = rev + 1
  local parts = {}
  local results = {}
  for i = 0, count - 1 do
    local at = first + i * 4
    local kind, key, a, b = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
    if kind == 'p' then
      local prev = record(key)
      local create, version, oldLease = nextRev, 1, ''
      if prev then
        local c, _, v, l = parse(prev)
        create, version, oldLease = c, v + 1, l
      else
        redis.call('ZADD', IDX, 0, key)
      end
      if oldLease ~= b then
        if oldLease ~= '' then redis.call('ZREM', LKEYS, oldLease .. ' ' .. key) end
        if b ~= '' then redis.call('ZADD', LKEYS, 0, b .. ' ' .. key) end
      end
      local rec = fmt(create) .. ',' .. fmt(nextRev) .. ',' .. fmt(version) .. ',' .. b .. ';' .. a
      redis.call('HSET', KV, key, rec)
      records[key] = rec
      parts[#parts + 1] = 'p' .. #key .. ':' .. key .. #rec .. ':' .. rec
      results[#results + 1] = 1
    elseif kind == 'd' then
      local keys
      if a == '1' then
        local lo, hi = prefixBounds(key)
        keys = redis.call('ZRANGEBYLEX', IDX, lo, hi)
      elseif record(key) then
        keys = { key }
      else
        keys = {}
      end
      for _, k in ipairs(keys) do
        local _, _, _, l = parse(record(k))
        if l ~= '' then redis.call('ZREM', LKEYS, l .. ' ' .. k) end
        redis.call('HDEL', KV, k)
        redis.call('ZREM', IDX, k)
        records[k] = false
        parts[#parts + 1] = delEvent(k)
      end
      results[#results + 1] = #keys
    else
      local out = { 0 }
      if a == '1' then
        local lo, hi = prefixBounds(key)
        local limit = tonumber(b)
        local keys
        if limit > 0 then
          keys = redis.call('ZRANGEBYLEX', IDX, lo, hi, 'LIMIT', 0, limit + 1)
          if #keys > limit then out[1] = 1; keys[#keys] = nil end
        else
          keys = redis.call('ZRANGEBYLEX', IDX, lo, hi)
        end
        -- HMGET in chunks: unpack() is limited by Lua's C stack.
        for from = 1, #keys, 1000 do
          local to = math.min(from + 999, #keys)
          local recs = redis.call('HMGET', KV, unpack(keys, from, to))
          for j = from, to do out[#out + 1] = keys[j]; out[#out + 1] = recs[j - from + 1] end
        end
      else
        local rec = record(key)
        if rec then out[2] = key; out[3] = rec end
      end
      results[#results + 1] = out
    end
  end
  if #parts > 0 then commit(parts) end
  saveMeta()
  local succeeded = 0
  if ok then succeeded = 1 end
  result = { succeeded, rev, results }
elseif cmd == 'grant' then
  leaseSeq = leaseSeq + 1
  seqSet = true
  local id = fmt(leaseSeq)
  local ttl = tonumber(ARGV[4])
  local expiry = nowUs + ttl * 1000
  redis.call('ZADD', LEASES, fmt(expiry), id)
  redis.call('HSET', LTTL, id, ttl)
  if expiry < due then
    due = expiry
    dueSet = true
  end
  saveMeta()
  result = id
elseif cmd == 'keepalive' then
  local id = ARGV[4]
  saveMeta()
  if not live(id) then return -1 end
  local ttl = tonumber(redis.call('HGET', LTTL, id))
  -- Only later: due stays at most the earliest expiry.
  redis.call('ZADD', LEASES, 'XX', fmt(nowUs + ttl * 1000), id)
  result = ttl
elseif cmd == 'revoke' then
  local id = ARGV[4]
  if redis.call('ZSCORE', LEASES, id) then revokeLease(id) end
  saveMeta()
  result = rev
elseif cmd == 'ttl' then
  local id = ARGV[4]
  saveMeta()
  if not live(id) then return -1 end
  result = math.floor((tonumber(redis.call('ZSCORE', LEASES, id)) - nowUs) / 1000)
elseif cmd == 'compact' then
  local r = tonumber(ARGV[4])
  if r > rev then
    saveMeta()
    return { -1, rev }
  end
  if r > compact then
    compact = r
    compactSet = true
    redis.call('XTRIM', LOG, 'MINID', fmt(r + 1) .. '-0')
  end
  saveMeta()
  result = { 0, rev }
elseif cmd == 'log' then
  local after = tonumber(ARGV[4])
  saveMeta()
  if after < compact then return { -1, compact, rev } end
  local entries = redis.call('XRANGE', LOG, '(' .. fmt(after) .. '-0', '+', 'COUNT', tonumber(ARGV[5]))
  result = { 0, rev, entries }
elseif cmd == 'reap' then
  saveMeta()
  local wait = -1
  if due < NEVER then wait = math.ceil((due - nowUs) / 1000) end
  result = { rev, wait }
else
  saveMeta()
  result = rev
end
return result
`;
