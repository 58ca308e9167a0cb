--[[
  Commits chunks of tasks, each on its own: applies a chunk's sink writes and advances its
  partition's offset from `from` to `until`, in one atomic step, and only if
    - the caller's epoch is current (a fenced driver's task can change nothing), and
    - the stored offset equals `from` (a retry, a duplicate or a zombie finds it moved: no-op).
  One call carries the concurrent commits of a process (the tasks of a group), so they cost one
  Redis command instead of one each. The entries are independent: each is committed, staged,
  skipped, fenced or invalid exactly as if it had been a call of its own, in the order given; an
  entry that is refused changes nothing and does not affect the others.

  A range split into pieces (skew) is read by several tasks at once, but must commit in offset
  order. A later piece whose predecessors are not committed yet (stored offset below the piece's
  start) keeps its chunks' writes in a stage instead; the driver applies the stages in order once
  the earlier pieces are done ('apply' mode), which moves the offset over the whole staged part.

  Input (numKeys = 3 + number of distinct sink keys of all entries):
    KEYS[1]    offsets hash        (field topic:partition -> next offset to read)
    KEYS[2]    epoch               (fencing counter)
    KEYS[3]    stages hash         (field topic:partition@pieceStart -> JSON {u = staged until, w = writes})
    KEYS[4..]  sink keys           (same hash tag as the job; 'apply' entries: the keys of the stage)
    ARGV[1]    number of entries
    ARGV[2..]  the entries, one after the other, each:
                 offsets field     "topic:partition"
                 from offset       (decimal string; 'apply' mode: the piece start)
                 until offset      (decimal string; ignored in 'apply' mode)
                 caller's epoch    (decimal string)
                 mode              'commit' | 'stage' | 'apply'
                 piece start       ('stage' mode: the start of the piece this chunk belongs to; else '')
                 number of writes  ('0' in 'apply' mode)
                 writes            4 values each: op, key index into KEYS, arg1, arg2
                                   op is one of hincrby, incrby, hset, set, sadd, rpush ('' for an unused arg)
  Output: one reply per entry, in order:
    {'committed', until}           writes applied, offset = until
    {'staged'}                     'stage' mode: writes kept in the piece's stage, offset unchanged
    {'skipped', stored}            stored offset (or false when absent) did not allow it; nothing applied
    {'fenced', currentEpoch}       caller's epoch is stale; nothing applied
    {'invalid', reason}            a write cannot be applied (wrong key type, non-integer increment,
                                   undeclared key); nothing applied
  The writes are checked before any is applied, so no entry fails half-way; should Redis itself fail
  a command mid-call (out of memory), the entries before it stay committed and the callers see the
  error, and their retries find those offsets moved (no-op), as after a lost reply.
]]
--- @include "sink-writes"
local rcall = redis.call

-- Read once: no entry changes it.
local current = rcall('GET', KEYS[2])

local function commitEntry(field, from, untilOffset, epoch, mode, pieceStart, writes)
  if current ~= epoch then
    return {'fenced', current}
  end
  local stored = rcall('HGET', KEYS[1], field)

  local stageField = nil
  if mode == 'apply' then
    stageField = field .. '@' .. from
    local stage = rcall('HGET', KEYS[3], stageField)
    if not stage then
      return {'skipped', stored}
    end
    stage = cjson.decode(stage)
    writes = stage.w
    untilOffset = stage.u
  end

  local invalid = checkSinkWrites(writes, 4)
  if invalid then
    return {'invalid', invalid}
  end

  if stored ~= from then
    -- Offsets are below 2^53, so comparing them as Lua numbers is exact.
    -- Staging goes on while the pieces before this one are not done, and also once they are (stored
    -- = piece start) for a piece whose stage already began: its chunks stay in order behind the stage.
    if mode == 'stage' and stored and tonumber(stored) <= tonumber(pieceStart) then
      local stageKey = field .. '@' .. pieceStart
      local stage
      if from == pieceStart then
        stage = {u = untilOffset, w = {}}
      else
        local existing = rcall('HGET', KEYS[3], stageKey)
        stage = existing and cjson.decode(existing)
        if not stage or stage.u ~= from then
          return {'skipped', stored}
        end
        stage.u = untilOffset
      end
      for _, w in ipairs(writes) do stage.w[#stage.w + 1] = w end
      rcall('HSET', KEYS[3], stageKey, cjson.encode(stage))
      return {'staged'}
    end
    return {'skipped', stored}
  end

  applySinkWrites(writes)

  if stageField then rcall('HDEL', KEYS[3], stageField) end
  rcall('HSET', KEYS[1], field, untilOffset)
  return {'committed', untilOffset}
end

local replies = {}
local i = 2
for e = 1, tonumber(ARGV[1]) do
  local nWrites = tonumber(ARGV[i + 6])
  local writes = sinkWritesFromArgv(i + 7, i + 6 + 4 * nWrites)
  replies[e] = commitEntry(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], writes)
  i = i + 7 + 4 * nWrites
end
return replies
