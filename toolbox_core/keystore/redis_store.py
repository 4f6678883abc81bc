"""The key store on Redis: every operation is one Lua script, so one atomic round trip.

Each key is a hash with field ``v`` (the value) and ``a`` (wrong attempts, or the count of a
rate-limit window). Scripts are registered once per store and run with ``EVALSHA``. Every key
is stored under the configured namespace (``jobs.redis_namespace``): ``otp:code:+998...`` is
``toolbox:otp:code:+998...`` in Redis, so several stores can share one Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.commands.core import Script

from toolbox_core.keystore.base import KeyStore, KeyStoreUnavailable, VerifyOutcome, WindowHit

T = TypeVar("T")

_SET = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'a', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_GET = "return redis.call('HGET', KEYS[1], 'v')"

_SET_IF_ABSENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'a', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_CONSUME = """
local v = redis.call('HGET', KEYS[1], 'v')
if v then redis.call('DEL', KEYS[1]) end
return v
"""

# Constant-time comparison: every byte is looked at whatever the first difference is.
_EQUAL = """
local function equal(a, b)
  local diff = (#a == #b) and 0 or 1
  for i = 1, #a do
    diff = bit.bor(diff, bit.bxor(string.byte(a, i), string.byte(b, i) or 0))
  end
  return diff == 0
end
"""

_COMPARE_AND_CONSUME = _EQUAL + """
local v = redis.call('HGET', KEYS[1], 'v')
if v and equal(v, ARGV[1]) then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""

_VERIFY_AND_CONSUME = _EQUAL + """
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'missing' end
if equal(v, ARGV[1]) then redis.call('DEL', KEYS[1]) return 'ok' end
local a = redis.call('HINCRBY', KEYS[1], 'a', 1)
if a >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) return 'exhausted' end
return 'mismatch'
"""

_RENEW = """
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_HIT = """
local n = redis.call('HINCRBY', KEYS[1], 'a', tonumber(ARGV[2]))
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""

# As _HIT, but only while the count stays within ARGV[3]; returns {count, ttl, admitted}.
_HIT_WITHIN = """
local amount, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local n = tonumber(redis.call('HGET', KEYS[1], 'a') or '0')
if n + amount > limit then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[1]) end
  return {n, ttl, 0}
end
n = redis.call('HINCRBY', KEYS[1], 'a', amount)
if n == amount then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {n, ttl, 1}
"""

# A window's count and expiry as they are; nothing when the window has ended (or never began).
_WINDOW = """
local n = redis.call('HGET', KEYS[1], 'a')
if not n then return false end
return {tonumber(n), redis.call('PTTL', KEYS[1])}
"""

# HINCRBY keeps the key's expiry; a missing key (an ended window) is not created.
_GIVE_BACK = """
local n = tonumber(redis.call('HGET', KEYS[1], 'a') or false)
if not n then return false end
local take = math.max(0, math.min(n, tonumber(ARGV[1])))
if take > 0 then n = redis.call('HINCRBY', KEYS[1], 'a', -take) end
return n
"""


def _ceil_seconds(millis: int) -> int:
    return max(0, -(-int(millis) // 1000))


class RedisKeyStore(KeyStore):
    """:class:`KeyStore` on Redis. Connection failures raise :class:`KeyStoreUnavailable`."""

    def __init__(self, url: str, *, timeout: float = 2.0, client: redis.Redis | None = None,
                 namespace: str = "toolbox") -> None:
        self.namespace = namespace
        self._prefix = f"{namespace}:"
        self.client = client or redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, decode_responses=True
        )
        register = self.client.register_script
        self._set: Script = register(_SET)
        self._get: Script = register(_GET)
        self._set_if_absent: Script = register(_SET_IF_ABSENT)
        self._consume: Script = register(_CONSUME)
        self._compare_and_consume: Script = register(_COMPARE_AND_CONSUME)
        self._verify_and_consume: Script = register(_VERIFY_AND_CONSUME)
        self._hit: Script = register(_HIT)
        self._hit_within: Script = register(_HIT_WITHIN)
        self._window: Script = register(_WINDOW)
        self._give_back: Script = register(_GIVE_BACK)
        self._renew: Script = register(_RENEW)

    def _run(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise KeyStoreUnavailable(details={"backend": "redis", "error": type(exc).__name__}) from exc

    def redis_key(self, key: str) -> str:
        """The Redis key that holds ``key``: the namespace, a colon, then ``key``."""
        return self._prefix + key

    def _script(self, script: Script, key: str, *args: Any) -> Any:
        return self._run(lambda: script(keys=[self.redis_key(key)], args=list(args)))

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self._script(self._set, key, value, int(ttl_seconds * 1000))

    def get(self, key: str) -> str | None:
        return self._script(self._get, key)

    def ttl(self, key: str) -> int | None:
        millis = self._run(lambda: self.client.pttl(self.redis_key(key)))
        return None if millis < 0 else _ceil_seconds(millis)

    def delete(self, key: str) -> bool:
        return bool(self._run(lambda: self.client.delete(self.redis_key(key))))

    def set_if_absent(self, key: str, value: str, ttl_seconds: int) -> bool:
        return bool(self._script(self._set_if_absent, key, value, int(ttl_seconds * 1000)))

    def consume(self, key: str) -> str | None:
        return self._script(self._consume, key)

    def compare_and_consume(self, key: str, expected: str) -> bool:
        return bool(self._script(self._compare_and_consume, key, expected))

    def verify_and_consume(self, key: str, candidate: str, max_attempts: int) -> VerifyOutcome:
        return VerifyOutcome(self._script(self._verify_and_consume, key, candidate, int(max_attempts)))

    def hit(self, key: str, window_seconds: float, amount: int = 1) -> WindowHit:
        count, millis = self._script(self._hit, key, int(window_seconds * 1000), int(amount))
        return WindowHit(count=int(count), reset_in=max(1, _ceil_seconds(millis)), reset_in_ms=max(0, int(millis)))

    def hit_within(self, key: str, window_seconds: float, limit: int, amount: int = 1) -> WindowHit:
        count, millis, admitted = self._script(
            self._hit_within, key, int(window_seconds * 1000), int(amount), int(limit)
        )
        return WindowHit(count=int(count), reset_in=max(1, _ceil_seconds(millis)), reset_in_ms=max(0, int(millis)),
                         admitted=bool(admitted))

    def window(self, key: str) -> WindowHit | None:
        found = self._script(self._window, key)
        if not found:
            return None
        count, millis = found
        return WindowHit(count=int(count), reset_in=max(1, _ceil_seconds(millis)), reset_in_ms=max(0, int(millis)))

    def give_back(self, key: str, amount: int = 1) -> int | None:
        count = self._script(self._give_back, key, int(amount))
        return None if count is None else int(count)

    def renew(self, key: str, value: str, ttl_seconds: float) -> bool:
        return bool(self._script(self._renew, key, value, int(ttl_seconds * 1000)))

    def ping(self) -> None:
        self._run(self.client.ping)

    def close(self) -> None:
        self.client.close()
