-- wrk script that replays requests from a file written by the benchmark (bench/check-speed.ts), one
-- line each, in order and round again: a JSON body to POST (WRK_METHOD=POST, the default) or a path
-- with its query to GET (WRK_METHOD=GET). The file holds the same mix as bench/wrk/check.lua
-- (`checkBodies` in bench/servers.ts), so every server of a run gets the same participants.
--
-- Environment: WRK_LINES (the file), WRK_METHOD, WRK_PATH (POST only, default /v1/check), CORDON_TOKEN.

local file = os.getenv("WRK_LINES")
local method = os.getenv("WRK_METHOD") or "POST"
local path = os.getenv("WRK_PATH") or "/v1/check"
local token = os.getenv("CORDON_TOKEN") or ""

local requests = {}
local index = 0

function init(args)
  for line in io.lines(file) do
    if method == "GET" then
      requests[#requests + 1] = wrk.format("GET", line, {})
    else
      local headers = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token,
      }
      requests[#requests + 1] = wrk.format("POST", path, headers, line)
    end
  end
end

function request()
  index = index + 1
  if index > #requests then index = 1 end
  return requests[index]
end
