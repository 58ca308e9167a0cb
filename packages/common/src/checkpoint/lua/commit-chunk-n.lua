--[[
  Commits one chunk of a task: applies the sink's writes and advances the partition's offset from
  `from` to `until`, in one atomic step, and only if
    - the caller's epoch is current (a fenced driver's task can change nothing), and
    - the stored offset equals `from` (a retry, a duplicate or a zombie finds it moved: no-op).

  A range split into pieces (skew) is read by several tasks at once, but must commit in offset
  order. A later piece whose predecessors are not committed yet (stored offset below the piece's
  start) keeps its chunks' writes in a stage instead; the driver applies the stages in order once
  the earlier pieces are done ('apply' mode), which moves the offset over the whole staged part.

  Input (numKeys = 3 + number of distinct sink keys):
    KEYS[1]    offsets hash        (field topic:partition -> next offset to read)
    KEYS[2]    epoch               (fencing counter)
    KEYS[3]    stages hash         (field topic:partition@pieceStart -> JSON {u = staged until, w = writes})
    KEYS[4..]  sink keys           (same hash tag as the job)
    ARGV[1]    offsets field       "topic:partition"
    ARGV[2]    from offset         (decimal string)
    ARGV[3]    until offset        (decimal string; ignored in 'apply' mode)
    ARGV[4]    caller's epoch      (decimal string)
    ARGV[5]    mode                'commit' | 'stage' | 'apply'
    ARGV[6]    piece start         ('stage' mode: the start of the piece this chunk belongs to; else '')
    ARGV[7..]  writes, 4 values each: op, key index into KEYS, arg1, arg2 ('commit' and 'stage')
               op is one of hincrby, incrby, hset, set, sadd, rpush ('' for an unused arg)
  Output:
    {'committed', until}           writes applied, offset = until
    {'staged'}                     'stage' mode: writes kept in the piece's stage, offset unchanged
    {'skipped', stored}            stored offset (or false when absent) did not allow it; nothing applied
    {'fenced', currentEpoch}       caller's epoch is stale; nothing applied
    {'invalid', reason}            a write cannot be applied (wrong key type, non-integer increment,
                                   undeclared key); nothing applied
]]
--- @include "sink-writes"
local rcall = redis.call
local field, from, untilOffset, epoch, mode, pieceStart = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

local current = rcall('GET', KEYS[2])
if current ~= epoch then
  return {'fenced', current}
end
local stored = rcall('HGET', KEYS[1], field)

-- The writes as a flat list of {op, key name, arg1, arg2}.
local writes = {}
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
else
  writes = sinkWritesFromArgv(7)
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
