--[[
  Offsets are compared as the exact decimal strings they are stored as (no sign, no leading
  zeros): by length, then character by character. Lua numbers are doubles, so tonumber would make
  offsets above 2^53 that differ by one equal.
]]
-- -1, 0 or 1 as offset a is below, equal to or above offset b.
local function compareOffsets(a, b)
  if #a ~= #b then
    return #a < #b and -1 or 1
  end
  if a == b then
    return 0
  end
  return a < b and -1 or 1
end
