--[[
  Applies the sink writes of one replayed dead letter and marks the entry replayed, in one atomic
  step, unless it is marked already: a retried or repeated replay of the same entry changes nothing.
  No offset moves (the range of the record was committed when it was dead-lettered).

  Input (numKeys = 1 + number of distinct sink keys):
    KEYS[1]    replayed hash       sluice:{J}:dlq:replayed (entry id -> time)
    KEYS[2..]  sink keys           (same hash tag as the job)
    ARGV[1]    entry id            <topic>:<partition>:<offset>
    ARGV[2]    time (ms)
    ARGV[3..]  writes, 4 values each: op, key index into KEYS, arg1, arg2 (as commit-chunks-n.lua)
  Output:
    {'committed'}                  writes applied, entry marked
    {'skipped'}                    the entry was replayed before; nothing applied
    {'invalid', reason}            a write cannot be applied; nothing applied
]]
--- @include "sink-writes"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {'skipped'}
end
local writes = sinkWritesFromArgv(3)
local invalid = checkSinkWrites(writes, 2)
if invalid then
  return {'invalid', invalid}
end
applySinkWrites(writes)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'committed'}
