-- wrk script of bench/run.py: one scenario, chosen by environment variables.
--
--   BENCH_METHOD   GET or POST
--   BENCH_BODY     request body (POST)
--   BENCH_AUTH     Authorization header value, if any
--   BENCH_TOKENS   a file of access tokens, one a line: each request sends the
--                  next one as a bearer token (threads interleave, so no token
--                  is sent twice until the file is used up; "wraps" counts the
--                  times a thread started over)
--   BENCH_OFFSET   how many tokens of the file earlier runs used (skipped)
--   BENCH_TOKEN_FIELD  if set, each token goes in the form body as this field
--                  (introspection, revocation, refresh), after BENCH_BODY and
--                  "&" if any, instead of a bearer header
--   BENCH_THREADS  wrk's -t, to interleave the tokens
--
-- done() prints one line "BENCH {json}" that bench/run.py reads.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH")
local tokens_file = os.getenv("BENCH_TOKENS")
local token_field = os.getenv("BENCH_TOKEN_FIELD")
if token_field == "" then
   token_field = nil
end

wrk.method = method
if (body and body ~= "") or token_field then
   wrk.body = body
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
if auth and auth ~= "" then
   wrk.headers["Authorization"] = auth
end

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

if tokens_file and tokens_file ~= "" then
   local tokens = {}
   local position, stride
   wraps = 0
   issued = 0

   function init(args)
      for line in io.lines(tokens_file) do
         if line ~= "" then
            tokens[#tokens + 1] = line
         end
      end
      stride = tonumber(os.getenv("BENCH_THREADS") or "1")
      position = tonumber(os.getenv("BENCH_OFFSET") or "0") + id
   end

   function request()
      if position > #tokens then
         position = ((position - 1) % #tokens) + 1
         wraps = wraps + 1
      end
      local token = tokens[position]
      position = position + stride
      issued = issued + 1
      if token_field then
         -- wrk.headers (Basic client authentication, Content-Type) as set above
         local prefix = (body and body ~= "") and (body .. "&") or ""
         return wrk.format(nil, nil, nil, prefix .. token_field .. "=" .. token)
      end
      return wrk.format(nil, nil, { Authorization = "Bearer " .. token })
   end
end

function done(summary, latency, requests)
   local wrapped, sent = 0, 0
   for _, thread in ipairs(threads) do
      wrapped = wrapped + (tonumber(thread:get("wraps")) or 0)
      sent = sent + (tonumber(thread:get("issued")) or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, '
         .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, '
         .. '"p99_us": %d, "mean_us": %.1f, "max_us": %d, "wraps": %d, "issued": %d}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
      latency.max, wrapped, sent))
end
