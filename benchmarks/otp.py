"""OTP figures through the HTTP API on Redis.

* ``otp_verify``: ``POST /store/otp/verify`` with correct codes (each consumed, each setting a
  verification flag) under wrk, 2 uvicorn workers. Codes are seeded straight into Redis (no SMS).
* ``otp_bruteforce``: guesses against ONE phone. One code is live at a time: the attacker fires a
  batch of concurrent wrong guesses, then asks for a new code. Every bad code gets the same
  ``invalid_code`` (checked or not: the answer does not tell), so the figures are the guesses
  answered ``invalid_code``, the ones refused by the phone's daily lock (``too_many_attempts``)
  and the hits. Bounded by ``--guesses`` and ``--seconds``.

    python -m benchmarks otp [--seconds 8] [--connections 8,16] [--guesses 100000] [--brute-seconds 90] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.harness import REDIS_URL, Server, figure, fresh_database, machine, report, wrk

SECRET = "benchmark-secret"
PHONE_BASE = 998_900_000_000
SEED_CODE = "123456"
ATTACKED = "+998991234567"

WRK_SCRIPT = """
counter = 0
offset = 0
local threads = {}
function setup(thread)
  thread:set("offset", #threads * %(per_thread)d)
  table.insert(threads, thread)
end
function request()
  counter = counter + 1
  local phone = "+" .. tostring(%(base)d + offset + counter)
  local body = '{"phone":"' .. phone .. '","code":"%(code)s"}'
  return wrk.format("POST", "/store/otp/verify", {["Content-Type"] = "application/json"}, body)
end
"""


class QuietServer(Server):
    """The harness server with its stderr in a file (the debug OTP sender logs every SMS)."""

    log_path: str = os.path.join(tempfile.gettempdir(), "toolbox-bench-otp-server.log")

    def command(self) -> list[str]:
        return ["sh", "-c", f'exec "$@" 2>>{self.log_path}', "sh", *super().command()]


def bench_verify(base_url: str, redis_url: str, seconds: int, connections: int) -> None:
    per_thread = 400_000
    script = Path(tempfile.gettempdir()) / "toolbox-bench-otp-verify.lua"
    script.write_text(WRK_SCRIPT % {"per_thread": per_thread, "base": PHONE_BASE, "code": SEED_CODE})
    # Enough live codes for both wrk threads at up to ~5,000 req/s each.
    _seed_ranges(redis_url, [(t * per_thread + 1, t * per_thread + 5000 * seconds + 1) for t in range(2)])
    result = wrk(f"{base_url}/store/otp/verify", connections=connections, seconds=seconds, threads=2, script=str(script))
    report(f"otp_verify_c{connections}", result)


def _seed_ranges(redis_url: str, ranges: list[tuple[int, int]]) -> None:
    """Issue code 123456 for each phone number in ``ranges``, as the API stores it (keyed hash)."""
    from toolbox_core.customers import otp
    from toolbox_core.keystore.redis_store import RedisKeyStore
    from toolbox_core.security import keyed_hash

    store = RedisKeyStore(redis_url)
    store.client.flushdb()
    pipe = store.client.pipeline(transaction=False)
    for first, last in ranges:
        for n in range(first, last):
            phone = f"+{PHONE_BASE + n}"
            store._set(keys=[store.redis_key(otp.code_key(phone))], args=[keyed_hash(SECRET, f"{phone}:{SEED_CODE}"), 900_000], client=pipe)
            if n % 5000 == 0:
                pipe.execute()
    pipe.execute()
    store.close()


class RawClient:
    """A lean keep-alive HTTP/1.1 client on ``connections`` sockets (httpx costs more CPU per
    request than the server spends answering a guess, so it would measure the client)."""

    def __init__(self, base_url: str, connections: int) -> None:
        host_port = base_url.split("://", 1)[1]
        self.host, port = host_port.split(":")
        self.port = int(port)
        self.size = connections
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()

    async def post(self, path: str, payload: dict[str, str]) -> tuple[int, dict]:
        body = json.dumps(payload).encode()
        reader, writer = await self.idle.get()
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            data = await reader.readexactly(length)
        finally:
            self.idle.put_nowait((reader, writer))
        return int(status_line.split()[1]), json.loads(data)


async def brute_force(base_url: str, guesses: int, seconds: float, batch: int) -> dict[str, int]:
    """Guess codes for one phone; returns counts and the most checks seen on any one code."""
    stats: Counter[str] = Counter()
    worst = 0
    guess = 0
    deadline = time.perf_counter() + seconds
    client = RawClient(base_url, batch)
    await client.open()
    try:
        while stats["guesses"] < guesses and time.perf_counter() < deadline:
            status, _ = await client.post("/store/otp/request", {"phone": ATTACKED})
            if status != 200:
                stats[f"request_{status}"] += 1
                await asyncio.sleep(0.01)
                continue
            stats["codes_issued"] += 1
            size = min(batch, guesses - stats["guesses"])
            codes = [f"{(guess + i) % 1_000_000:06d}" for i in range(size)]
            guess += size
            answers = await asyncio.gather(
                *(client.post("/store/otp/verify", {"phone": ATTACKED, "code": c}) for c in codes)
            )
            answered = 0
            for status, body in answers:
                stats["guesses"] += 1
                outcome = "ok" if status == 200 else body["error"]["code"]
                stats[outcome] += 1
                if outcome in {"ok", "invalid_code"}:
                    answered += 1
            worst = max(worst, answered)
    finally:
        await client.close()
    stats["max_answered_per_code"] = worst
    return dict(stats)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks otp")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration of the verify run")
    parser.add_argument("--connections", default="8,16", help="wrk connections; one verify run per value")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--guesses", type=int, default=100_000)
    parser.add_argument("--brute-seconds", type=float, default=90, help="time bound of the brute-force run")
    parser.add_argument("--batch", type=int, default=100, help="concurrent guesses per issued code")
    parser.add_argument("--skip-verify", action="store_true")
    parser.add_argument("--skip-brute", action="store_true")
    args = parser.parse_args(argv)

    machine()
    env = {
        "TOOLBOX_REDIS_URL": REDIS_URL,
        "TOOLBOX_AUTH__SECRET_KEY": SECRET,
        "TOOLBOX_AUTH__OTP_SENDER": "log",
        "TOOLBOX_DEBUG": "true",
        # The brute-force run asks for a new code as soon as one dies: lift the per-phone,
        # per-address and store-wide limits so only the 5-attempts rule and the phone's daily
        # cap on failed checks stand between the attacker and the code.
        "TOOLBOX_AUTH__OTP_RESEND_SECONDS": "0",
        "TOOLBOX_AUTH__OTP_MAX_PER_HOUR": "100000000",
        "TOOLBOX_AUTH__OTP_MAX_PER_IP_PER_HOUR": "100000000",
        "TOOLBOX_AUTH__OTP_MAX_PER_MINUTE": "100000000",
    }
    with fresh_database("sqlite") as db_url, QuietServer(db_url, workers=args.workers, env=env) as server:
        figure("otp_workers", args.workers)
        if not args.skip_verify:
            for connections in (int(c) for c in args.connections.split(",")):
                bench_verify(server.url, REDIS_URL, args.seconds, connections)
        if not args.skip_brute:
            started = time.perf_counter()
            stats = asyncio.run(brute_force(server.url, args.guesses, args.brute_seconds, args.batch))
            elapsed = time.perf_counter() - started
            figure("otp_bruteforce_guesses", stats.get("guesses", 0), "guesses")
            figure("otp_bruteforce_seconds", elapsed, "s")
            figure("otp_bruteforce_codes_issued", stats.get("codes_issued", 0), "codes")
            figure("otp_bruteforce_answered_invalid", stats.get("invalid_code", 0), "guesses")
            figure("otp_bruteforce_max_answered_per_code", stats["max_answered_per_code"], "guesses")
            figure("otp_bruteforce_refused_locked", stats.get("too_many_attempts", 0), "guesses")
            figure("otp_bruteforce_cracked", stats.get("ok", 0), "codes")
