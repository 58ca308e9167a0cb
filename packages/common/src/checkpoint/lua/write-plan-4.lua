--[[
  Persists the plan of a batch before any task is sent (Structured Streaming's offset log), and
  records the starting offset of partitions that have no checkpoint yet, so that a restart never
  re-resolves `latest` and every task commit finds its `from` in place.

  Besides the plan's JSON, each range is kept as a field `range:<topic>:<partition>` = "<from> <until>",
  which the commit script reads to refuse a commit outside the plan. A plan of another batch than
  the one stored replaces it whole (its ranges and the records counted for it); a replay of the
  same batch keeps what its earlier attempts counted.

  Skips (failOnDataLoss = false): when records a checkpoint points to are gone (retention moved the
  log start past it, or the topic was recreated and the checkpoint is beyond its latest offset),
  the plan starts that partition at its earliest offset and the stored offset must move there
  before any task commits (a task commits only from the stored offset). Each skip is a
  compare-and-set, checked for every skip before anything is written (Lua does not roll back):
    stored == expected               -> moved to newFrom (the first write of this plan)
    newFrom <= stored <= until       -> already moved by this same plan (a replay after a crash, or
                                        tasks of the replayed plan already committed): left alone
    anything else                    -> {'skip-conflict', ...}: someone else changed the checkpoint
                                        since planning; nothing is written
  Exactly-once is kept for every record that still exists: the offset moves only from the exact
  value the planner saw to the partition's earliest offset, so no existing record is skipped, and
  no chunk commit of an older plan can apply (its `from` no longer matches; older epochs are fenced).

  Input:
    KEYS[1]    epoch               (fencing counter)
    KEYS[2]    batch:planned       (hash: id, epoch, plan, range:<topic:partition>)
    KEYS[3]    offsets             (hash: topic:partition -> next offset)
    KEYS[4]    batch:counts        (hash: records and bytes committed per task range of the planned batch)
    ARGV[1]    caller's epoch
    ARGV[2]    batch id
    ARGV[3]    plan (JSON: id, epoch, time, ranges[, skips])
    ARGV[4]    number of skips S (0 when none)
    ARGV[5..4+4S]  skip quadruples: offsets field, expected stored offset, new from, range until
    ARGV[5+4S..]   triples, one per range: offsets field, from offset (also set as the stored offset
                   where the field is absent), until offset
  Output:
    {'ok'}
    {'fenced', currentEpoch}
    {'skip-conflict', field, stored, expected}
]]
--- @include "offsets"
local rcall = redis.call

local current = rcall('GET', KEYS[1])
if current ~= ARGV[1] then
  return {'fenced', current}
end

local skips = tonumber(ARGV[4])
local rangesStart = 5 + 4 * skips
local move = {}
for i = 5, rangesStart - 1, 4 do
  local field, expected, newFrom, untilOffset = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local stored = rcall('HGET', KEYS[3], field)
  if stored == expected then
    move[#move + 1] = field
    move[#move + 1] = newFrom
  elseif not stored or compareOffsets(stored, newFrom) < 0 or compareOffsets(stored, untilOffset) > 0 then
    return {'skip-conflict', field, stored, expected}
  end
end

if rcall('HGET', KEYS[2], 'id') ~= ARGV[2] then
  rcall('DEL', KEYS[2], KEYS[4])
end
rcall('HSET', KEYS[2], 'id', ARGV[2], 'epoch', ARGV[1], 'plan', ARGV[3])
for i = 1, #move, 2 do
  rcall('HSET', KEYS[3], move[i], move[i + 1])
end
for i = rangesStart, #ARGV, 3 do
  rcall('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1])
  rcall('HSET', KEYS[2], 'range:' .. ARGV[i], ARGV[i + 1] .. ' ' .. ARGV[i + 2])
end
return {'ok'}
