-- Shared by the gateway callback scripts: wrk runs one connection per thread, each thread
-- plays whole payments (several calls in order) for the orders of its share of a data file.
-- Arguments after `--`: data file, then the script's own. Prints `lua_<counter>: N` at the end.
local M = {}
local threads, created = {}, 0

function M.setup(thread)
  thread:set("index", created)
  created = created + 1
  table.insert(threads, thread)
end

-- The data file's lines (tab-separated fields) that belong to thread `index` of `count`.
function M.share(path, index, count)
  local rows, n = {}, 0
  for line in io.lines(path) do
    if n % count == index then
      local fields = {}
      for field in (line .. "\t"):gmatch("([^\t]*)\t") do table.insert(fields, field) end
      table.insert(rows, fields)
    end
    n = n + 1
  end
  return rows
end

function M.thread_count() return created end

function M.done(names)
  for _, name in ipairs(names) do
    local total = 0
    for _, thread in ipairs(threads) do total = total + (thread:get(name) or 0) end
    io.write(string.format("lua_%s: %d\n", name, total))
  end
end

return M
