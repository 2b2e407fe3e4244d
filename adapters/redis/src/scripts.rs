//! Server-side scans over the lanes (one stream per team), so that taking a
//! ticket costs one round trip however many teams there are.
//!
//! Both scripts read the set of lanes (`KEYS[1]`) themselves, so a new
//! team's lane is seen at once, try them in name order starting after the
//! lane the caller served last (`ARGV[3]`), so lanes with tickets take
//! turns, and return the first
//! entry found as `{lane, id, job, n, delivered}`, or nil. A lane whose
//! consumer group is missing (Redis lost it) gets it back, from the start
//! of the stream.

use redis::Script;
use std::sync::LazyLock;

/// Shared Lua: group re-creation and entry flattening.
const PRELUDE: &str = r"
local group, consumer = ARGV[1], ARGV[2]
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return false
end
local function flat(key, e, delivered)
  return {key, e[1], field(e[2], 'job'), field(e[2], 'n') or '0', delivered}
end
local function nogroup(r)
  return type(r) == 'table' and r.err and string.find(r.err, 'NOGROUP')
end
local lanes = redis.call('SMEMBERS', KEYS[1])
table.sort(lanes)
-- Start after the lane this consumer served last, so lanes take turns.
local start = 0
for i, l in ipairs(lanes) do
  if l > ARGV[3] then start = i - 1 break end
end
local function lane(j)
  return lanes[((start + j) % #lanes) + 1]
end
";

/// `XREADGROUP … COUNT 1 STREAMS lane >` on each lane until one has a new
/// ticket. `ARGV`: group, consumer, last lane served.
const READ: &str = r"
for j = 0, #lanes - 1 do
  local key = lane(j)
  local r = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', key, '>')
  if nogroup(r) then
    redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
    r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', key, '>')
  elseif type(r) == 'table' and r.err then
    return r
  end
  if r and r[1] and r[1][2][1] then
    return flat(key, r[1][2][1], 1)
  end
end
return false
";

/// `XAUTOCLAIM lane … min-idle 0-0 COUNT 1` on each lane until one yields a
/// ticket whose lease lapsed, with its delivery count from `XPENDING`.
/// `ARGV`: group, consumer, last lane served, min idle milliseconds.
const RECLAIM: &str = r"
for j = 0, #lanes - 1 do
  local key = lane(j)
  local r = redis.pcall('XAUTOCLAIM', key, group, consumer, ARGV[4], '0-0', 'COUNT', 1)
  if not (type(r) == 'table' and r.err) then
    local e = r[2][1]
    if e then
      local p = redis.call('XPENDING', key, group, e[1], e[1], 1)
      local delivered = (p[1] and p[1][4]) or 1
      return flat(key, e, delivered)
    end
  elseif not nogroup(r) then
    return r
  end
end
return false
";

/// The read script.
pub static READ_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{PRELUDE}{READ}")));

/// The reclaim script.
pub static RECLAIM_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{PRELUDE}{RECLAIM}")));

/// What both scripts return: lane, entry id, job id, deliveries before, and
/// times delivered in this group.
pub type Found = Option<(String, String, String, u32, u32)>;
