"""Viewer presence across servers: one person with tabs on several servers is one viewer.

Each server runs the rules of `checkin.presence` for its own connections (tabs, grace periods). What they
say is then settled in Redis, per event and viewer, in a hash `viewer:<event id>:<viewer key>` of
server id -> 1 for every server that counts the viewer (watching, or inside its grace), changed by a small
Lua script that settles a server's batch of changes in one call and answers, atomically for each:
- a server starting to count the viewer (`join`) says whether it is the first; the first opens the
  viewing in the database (or takes over one still open), the others only add themselves;
- a server whose grace ran out (`leave`) hears whether it was the last live one: then it ends the viewing,
  at the latest last sign of life any server reported; else it hands the viewing to a server still
  counting the viewer. Ends and hand-overs apply only to a viewing this server still owns, so a server
  that joined meanwhile is never cut off.
Servers whose liveness key has expired count for nothing: `leave` drops them as it meets them, and every
beat sweeps the hashes of servers gone (`held:<server id>` lists them). Anonymous viewers per event and
client address are counted per server in `anon:<event id>:<address>` (server id -> count); the cap holds
for the sum over live servers. The database stays the record: peak, unique and the per-minute series are
computed from its intervals as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from checkin.presence import Change, Identity, Kind
from checkin.shared.link import RedisLink
from checkin.storage.viewing import HandedOver, Joined, Step

log = logging.getLogger("checkin.watching")
ANONYMOUS_TTL = 86_400  # an address's counts outlive no event day (servers gone are left out anyway)

# KEYS: this server's held set, then viewer hashes. ARGV: server id, alive-key prefix, then one step per viewer:
# 'join' (answered {'1', ''} when no other live server counted the viewer, else {'0', ''}) or a leave, given as
# the last sign of life (answered {a live server still counting the viewer, ''} or, when this was the last one,
# {'', the latest last sign of life any server reported}).
SETTLE = """
local server, alive = ARGV[1], ARGV[2]
local answers = {}
for i = 2, #KEYS do
  local key, step = KEYS[i], ARGV[i + 1]
  if step == 'join' then
    local first = '1'
    for _, field in ipairs(redis.call('HKEYS', key)) do
      if field ~= server and field ~= '_seen' then
        if redis.call('EXISTS', alive .. field) == 1 then first = '0' else redis.call('HDEL', key, field) end
      end
    end
    redis.call('HSET', key, server, '1')
    redis.call('SADD', KEYS[1], key)
    answers[i - 1] = {first, ''}
  else
    redis.call('HDEL', key, server)
    redis.call('SREM', KEYS[1], key)
    local seen = tonumber(step)
    local before = tonumber(redis.call('HGET', key, '_seen') or step)
    if before > seen then seen = before end
    local heir = ''
    for _, field in ipairs(redis.call('HKEYS', key)) do
      if field ~= '_seen' and heir == '' then
        if redis.call('EXISTS', alive .. field) == 1 then heir = field else redis.call('HDEL', key, field) end
      end
    end
    if heir == '' then
      redis.call('DEL', key)
      answers[i - 1] = {'', tostring(seen)}
    else
      redis.call('HSET', key, '_seen', tostring(seen))
      answers[i - 1] = {heir, ''}
    end
  end
end
return answers
"""

# KEYS: viewer hashes. ARGV: alive-key prefix, then per hash a server to leave out. Returns a live server counting
# each viewer ('' if none).
HOLDERS = """
local found = {}
for i, key in ipairs(KEYS) do
  found[i] = ''
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if field ~= '_seen' and field ~= ARGV[i + 1] and redis.call('EXISTS', ARGV[1] .. field) == 1 then
      found[i] = field
      break
    end
  end
end
return found
"""

# KEYS: a gone server's held set. ARGV: its id, alive-key prefix. Drops its fields, and hashes left with no live one.
SWEEP = """
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('HDEL', key, ARGV[1])
  local live = false
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if field ~= '_seen' and redis.call('EXISTS', ARGV[2] .. field) == 1 then live = true break end
  end
  if not live then redis.call('DEL', key) end
end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: an address's hash, the viewer's hash. ARGV: server id, alive-key prefix. The anonymous viewers other live
# servers hold; -1 when some server counts this very viewer already (one already present may come back).
OTHERS = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local total = 0
local counts = redis.call('HGETALL', KEYS[1])
for i = 1, #counts, 2 do
  if counts[i] ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. counts[i]) == 1 then
    total = total + tonumber(counts[i + 1])
  end
end
return total
"""


class SharedViewers:
    """This server's side of the shared presence: settles its changes and holds its share of the counts."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._settle = link.client.register_script(SETTLE)
        self._holders = link.client.register_script(HOLDERS)
        self._sweep = link.client.register_script(SWEEP)
        self._others = link.client.register_script(OTHERS)

    @property
    def alive_prefix(self) -> str:
        return self.link.key("alive", "")

    @property
    def held_key(self) -> str:
        return self.link.key("held", self.link.server_id)

    def viewer_key(self, identity: Identity) -> str:
        return self.link.key("viewer", identity.event_id, identity.viewer_key)

    async def settle(self, changes: Sequence[Change]) -> list[Step]:
        """Tell Redis of each start and end, in order (one script call); what the database must do, in order."""
        steps = ["join" if change.kind is Kind.START else repr(change.at) for change in changes]
        answers = await self._run_settle([change.identity for change in changes], steps)
        settled: list[Step] = []
        for change, (first_or_heir, seen) in zip(changes, answers, strict=True):
            if change.kind is Kind.START:
                settled.append(change if first_or_heir == "1" else Joined(change.identity, change.at))
            elif first_or_heir:
                settled.append(HandedOver(change.identity, str(first_or_heir)))
            else:
                settled.append(Change(Kind.END, change.identity, float(seen)))
        return settled

    async def hold(self, identities: Iterable[Identity]) -> None:
        """Count these viewers as this server's again (viewings taken over; Redis emptied by a flush)."""
        identities = list(identities)
        if identities:
            await self._run_settle(identities, ["join"] * len(identities))

    async def _run_settle(self, identities: Sequence[Identity], steps: list[str]) -> list[list[str]]:
        if not identities:
            return []
        keys = [self.held_key, *(self.viewer_key(identity) for identity in identities)]
        answers = await self._settle(keys, [self.link.server_id, self.alive_prefix, *steps])
        return [[str(part) for part in answer] for answer in answers]

    async def holders(self, viewings: Sequence[tuple[Identity, str]]) -> list[str]:
        """For each (viewer, server), a live server counting the viewer other than that one ('' where none)."""
        if not viewings:
            return []
        keys = [self.viewer_key(identity) for identity, _ in viewings]
        found = await self._holders(keys, [self.alive_prefix, *(owner for _, owner in viewings)])
        return [str(server) for server in found]

    async def bury(self, dead: Iterable[str]) -> None:
        """Servers the database found dead (their process gone, or silent): gone from Redis now rather than when
        their liveness key expires, so that no viewer is handed to them meanwhile, and what they held forgotten."""
        dead = sorted(dead)
        if dead:
            await self.link.client.delete(*(self.link.key("alive", server) for server in dead))
            await self.link.client.srem(self.link.key("servers"), *dead)
            await self.sweep(dead)

    async def sweep(self, gone: Iterable[str]) -> None:
        """Forget what servers gone from Redis (killed, silent past their TTL: `RedisLink.live_servers`) held."""
        for server in sorted(gone):
            await self._sweep([self.link.key("held", server)], [server, self.alive_prefix])
            log.warning("server %s is gone: its viewers no longer count through it", server)

    def anonymous_key(self, event_id: int, address: str) -> str:
        return self.link.key("anon", event_id, address)

    async def anonymous_elsewhere(self, identity: Identity, address: str) -> int:
        """Anonymous viewers of this event from this address that the other live servers hold (-1: this viewer
        is counted somewhere already)."""
        keys = [self.anonymous_key(identity.event_id, address), self.viewer_key(identity)]
        return int(await self._others(keys, [self.link.server_id, self.alive_prefix]))

    async def refused(self, identity: Identity) -> None:
        """The cap turned this anonymous viewer away (counted once per viewer, approximately, in a HyperLogLog)."""
        await self.link.client.pfadd(self.link.key("refused", identity.event_id), identity.viewer_key)

    async def refused_count(self, event_id: int) -> int:
        """About how many distinct anonymous viewers of this event the cap turned away, on every server."""
        return int(await self.link.client.pfcount(self.link.key("refused", event_id)))

    async def publish_anonymous(self, counts: dict[tuple[int, str], int]) -> None:
        """This server's anonymous viewers per event and address (0: none any more)."""
        if not counts:
            return
        async with self.link.client.pipeline(transaction=False) as pipe:
            for (event_id, address), held in counts.items():
                key = self.anonymous_key(event_id, address)
                if held:
                    pipe.hset(key, self.link.server_id, held)
                    pipe.expire(key, ANONYMOUS_TTL)
                else:
                    pipe.hdel(key, self.link.server_id)
            await pipe.execute()
