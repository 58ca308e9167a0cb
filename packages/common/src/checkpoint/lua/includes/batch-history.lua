--[[
  Shared by the scripts that commit a batch (commit-batch-7.lua, commit-block-batch-n.lua): records
  the batch id as the last committed one, adds the batch to the job's running totals and appends
  its summary to the capped history.
]]
local function recordBatchHistory(committedKey, totalsKey, batchesKey, batchId, historySize, summary, records, bytes)
  redis.call('SET', committedKey, batchId)
  redis.call('HINCRBY', totalsKey, 'batches', 1)
  redis.call('HINCRBY', totalsKey, 'records', records)
  redis.call('HINCRBY', totalsKey, 'bytes', bytes)
  redis.call('XADD', batchesKey, 'MAXLEN', '~', historySize, '*', 'id', batchId, 'summary', summary)
end
