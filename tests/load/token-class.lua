-- wrk script for `make load`: sends GET requests to one path, rotating through the tokens of one
-- class (one token per line in the file given as the first script argument), and tallies the
-- answers' statuses so that load.mjs can check every answer against the class's expectation.
local tokens = {}
local next_index = 0
statuses = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  path = args[2]
end

function request()
  next_index = next_index % #tokens + 1
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[next_index] })
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  io.write(string.format('STATUSES {%s}\n', table.concat(parts, ",")))
end
