--[[
  Commits chunks of tasks, each on its own: applies a chunk's sink writes and advances its
  partition's offset from `from` to `until`, in one atomic step, and only if
    - the caller's epoch is current (a fenced driver's task can change nothing),
    - the chunk lies inside the stored plan: its batch is the planned one, and [from, until) lies
      inside the planned range of its partition (a forged or stray task can change nothing), and
    - the stored offset equals `from` (a retry, a duplicate or a zombie finds it moved: no-op).
  One call carries the concurrent commits of a process (the tasks of a group), so they cost one
  Redis command instead of one each. The entries are independent: each is committed, staged,
  skipped, fenced, refused or invalid exactly as if it had been a call of its own, in the order
  given; an entry that is refused changes nothing and does not affect the others.

  A committed chunk adds its records and bytes to the batch's counts, under its task's range start,
  so that the batch's summary counts every record once however many attempts, replays and chunks
  it took (a replay finds the counts of what earlier attempts committed).

  A range split into pieces (skew) is read by several tasks at once, but must commit in offset
  order. A later piece whose predecessors are not committed yet (stored offset below the piece's
  start) keeps its chunks' writes and counts in a stage instead; the driver applies the stages in
  order once the earlier pieces are done ('apply' mode), which moves the offset over the whole
  staged part.

  Input (numKeys = 5 + number of distinct sink keys of all entries):
    KEYS[1]    offsets hash        (field topic:partition -> next offset to read)
    KEYS[2]    epoch               (fencing counter)
    KEYS[3]    stages hash         (field topic:partition@pieceStart -> JSON {u = staged until, w = writes,
                                    r = records, b = bytes})
    KEYS[4]    batch:planned       (hash: id, range:<topic:partition> -> "<from> <until>")
    KEYS[5]    batch:counts        (hash: <topic:partition>@<task start> -> "<records> <bytes>")
    KEYS[6..]  sink keys           (same hash tag as the job; 'apply' entries: the keys of the stage)
    ARGV[1]    number of entries
    ARGV[2..]  the entries, one after the other, each:
                 offsets field     "topic:partition"
                 from offset       (decimal string; 'apply' mode: the piece start)
                 until offset      (decimal string; ignored in 'apply' mode)
                 caller's epoch    (decimal string)
                 batch id          (decimal string)
                 mode              'commit' | 'stage' | 'apply'
                 task start        the start of the task's range (a piece's start): the counts go
                                   under it, and 'stage' mode stages under it ('apply' mode: ignored)
                 records           records of the chunk ('0' in 'apply' mode)
                 bytes             key and value bytes of the chunk ('0' in 'apply' mode)
                 number of writes  ('0' in 'apply' mode)
                 writes            4 values each: op, key index into KEYS, arg1, arg2
                                   op is one of hincrby, incrby, hset, set, sadd, rpush ('' for an unused arg)
  Output: one reply per entry, in order:
    {'committed', until}           writes applied, offset = until
    {'staged'}                     'stage' mode: writes kept in the piece's stage, offset unchanged
    {'skipped', stored}            stored offset (or false when absent) did not allow it; nothing applied
    {'fenced', currentEpoch}       caller's epoch is stale; nothing applied
    {'outside-plan', plannedId, plannedRange, until}
                                   not inside the stored plan; nothing applied. plannedId: the planned
                                   batch (false: none); plannedRange: "<from> <until>" of the partition in
                                   that plan (false: not planned); until: the chunk's until
    {'invalid', reason}            a write cannot be applied (wrong key type, non-integer increment,
                                   undeclared key); nothing applied
  The writes are checked before any is applied, so no entry fails half-way; should Redis itself fail
  a command mid-call (out of memory), the entries before it stay committed and the callers see the
  error, and their retries find those offsets moved (no-op), as after a lost reply.
]]
--- @include "sink-writes"
--- @include "offsets"
local rcall = redis.call

-- Read once: no entry changes them.
local current = rcall('GET', KEYS[2])
local plannedId = rcall('HGET', KEYS[4], 'id')

local function outsidePlan(field, batchId, from, untilOffset)
  if batchId ~= plannedId then
    return {'outside-plan', plannedId, false, untilOffset}
  end
  local planned = rcall('HGET', KEYS[4], 'range:' .. field)
  if not planned then
    return {'outside-plan', plannedId, false, untilOffset}
  end
  local plannedFrom, plannedUntil = string.match(planned, '^(%d+) (%d+)$')
  if compareOffsets(from, plannedFrom) < 0 or compareOffsets(untilOffset, plannedUntil) > 0
    or compareOffsets(from, untilOffset) > 0 then
    return {'outside-plan', plannedId, planned, untilOffset}
  end
  return nil
end

local function count(field, taskStart, records, bytes)
  if records == '0' and bytes == '0' then return end
  local at = field .. '@' .. taskStart
  local countedRecords, countedBytes = string.match(rcall('HGET', KEYS[5], at) or '0 0', '^(%d+) (%d+)$')
  rcall('HSET', KEYS[5], at, string.format('%d %d', countedRecords + records, countedBytes + bytes))
end

local function commitEntry(e)
  if current ~= e.epoch then
    return {'fenced', current}
  end
  local stored = rcall('HGET', KEYS[1], e.field)

  local stageField = nil
  local untilOffset, writes, records, bytes = e.untilOffset, e.writes, e.records, e.bytes
  if e.mode == 'apply' then
    stageField = e.field .. '@' .. e.from
    local stage = rcall('HGET', KEYS[3], stageField)
    if not stage then
      return {'skipped', stored}
    end
    stage = cjson.decode(stage)
    writes, untilOffset = stage.w, stage.u
    records, bytes = tostring(stage.r or 0), tostring(stage.b or 0)
  end

  local refused = outsidePlan(e.field, e.batchId, e.from, untilOffset)
  if refused then
    return refused
  end

  local invalid = checkSinkWrites(writes, 6)
  if invalid then
    return {'invalid', invalid}
  end

  if stored ~= e.from then
    -- Staging goes on while the pieces before this one are not done, and also once they are (stored
    -- = piece start) for a piece whose stage already began: its chunks stay in order behind the stage.
    if e.mode == 'stage' and stored and compareOffsets(stored, e.taskStart) <= 0 then
      local stageKey = e.field .. '@' .. e.taskStart
      local stage
      if e.from == e.taskStart then
        stage = {u = untilOffset, w = {}, r = 0, b = 0}
      else
        local existing = rcall('HGET', KEYS[3], stageKey)
        stage = existing and cjson.decode(existing)
        if not stage or stage.u ~= e.from then
          return {'skipped', stored}
        end
        stage.u = untilOffset
      end
      for _, w in ipairs(writes) do stage.w[#stage.w + 1] = w end
      stage.r = (stage.r or 0) + tonumber(records)
      stage.b = (stage.b or 0) + tonumber(bytes)
      rcall('HSET', KEYS[3], stageKey, cjson.encode(stage))
      return {'staged'}
    end
    return {'skipped', stored}
  end

  applySinkWrites(writes)
  count(e.field, e.mode == 'apply' and e.from or e.taskStart, records, bytes)

  if stageField then rcall('HDEL', KEYS[3], stageField) end
  rcall('HSET', KEYS[1], e.field, untilOffset)
  return {'committed', untilOffset}
end

local replies = {}
local i = 2
for n = 1, tonumber(ARGV[1]) do
  local nWrites = tonumber(ARGV[i + 9])
  replies[n] = commitEntry({
    field = ARGV[i], from = ARGV[i + 1], untilOffset = ARGV[i + 2], epoch = ARGV[i + 3], batchId = ARGV[i + 4],
    mode = ARGV[i + 5], taskStart = ARGV[i + 6], records = ARGV[i + 7], bytes = ARGV[i + 8],
    writes = sinkWritesFromArgv(i + 10, i + 9 + 4 * nWrites),
  })
  i = i + 10 + 4 * nWrites
end
return replies
