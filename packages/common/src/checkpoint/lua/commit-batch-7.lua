--[[
  Marks the planned batch committed once every one of its ranges has been committed by its task:
  checks that each partition's stored offset equals the range's until, then records the batch id,
  adds the batch to the job's running totals, appends its summary to the capped history and
  clears the plan and the records counted for it.

  Input:
    KEYS[1]    epoch               (fencing counter)
    KEYS[2]    batch:planned       (hash: id, epoch, plan, range:<topic:partition>)
    KEYS[3]    offsets             (hash: topic:partition -> next offset)
    KEYS[4]    batch:committed     (id of the last committed batch)
    KEYS[5]    batches             (stream: one entry per committed batch)
    KEYS[6]    totals              (hash: batches, records, bytes since the job began)
    KEYS[7]    batch:counts        (hash: records and bytes committed per task range of the planned batch)
    ARGV[1]    caller's epoch
    ARGV[2]    batch id
    ARGV[3]    history length to keep (approximate MAXLEN)
    ARGV[4]    batch summary (JSON)
    ARGV[5]    records of the batch
    ARGV[6]    bytes of the batch
    ARGV[7..]  pairs: offsets field, until offset
  Output:
    {'ok'}
    {'fenced', currentEpoch}
    {'not-planned', plannedId}     the planned batch is another one (or none)
    {'incomplete', field, stored}  a range was not committed to its until
]]
--- @include "batch-history"
local rcall = redis.call

local current = rcall('GET', KEYS[1])
if current ~= ARGV[1] then
  return {'fenced', current}
end

local planned = rcall('HGET', KEYS[2], 'id')
if planned ~= ARGV[2] then
  return {'not-planned', planned}
end

for i = 7, #ARGV, 2 do
  local stored = rcall('HGET', KEYS[3], ARGV[i])
  if stored ~= ARGV[i + 1] then
    return {'incomplete', ARGV[i], stored}
  end
end

recordBatchHistory(KEYS[4], KEYS[6], KEYS[5], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
rcall('DEL', KEYS[2], KEYS[7])
return {'ok'}
