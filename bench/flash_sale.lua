-- wrk script for bench/orders_flash_sale.py: each request is one buyer's checkout
-- (its own viewer token and idempotency key), read from a file the bench writes.
-- Each wrk thread takes its own slice of buyers and stops when all have been answered
-- (a few requests past the slice may go out meanwhile: they replay a key, harmlessly).
local requests_file = os.getenv("REQUESTS_FILE")
local path = os.getenv("REQUEST_PATH")
local method = os.getenv("REQUEST_METHOD") or "POST"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local lines = {}
  for line in io.lines(requests_file) do table.insert(lines, line) end
  local nthreads = tonumber(os.getenv("WRK_THREADS"))
  mine = {}
  for i = id + 1, #lines, nthreads do table.insert(mine, lines[i]) end
  sent, done, statuses = 0, 0, {}
end

function request()
  sent = sent + 1
  local line = mine[((sent - 1) % #mine) + 1]
  local token, key = line:match("([^ ]+) ([^ ]+)")
  local headers = {}
  if method == "POST" then
    headers["Authorization"] = "Bearer " .. token
    headers["Idempotency-Key"] = key
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path, headers, '{"quantity": 1}')
  end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  done = done + 1
  statuses[status] = (statuses[status] or 0) + 1
  if done == #mine then
    -- wrk keeps its main loop running for -d; tell the bench we are done, it sends SIGINT.
    local f = io.open(os.getenv("DONE_FILE"), "a")
    f:write("done\n")
    f:close()
    wrk.thread:stop()
  end
end
