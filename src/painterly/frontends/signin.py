"""Signing in to a shared web server: the password check Gradio asks, and the back-off after failed
sign-ins.

The check runs scrypt (`users.verify`, ~50 ms of one core) on a worker thread, one check at a time,
so the server's event loop keeps answering everyone else while sign-ins are checked, and a flood of
guesses takes at most one core. An unknown name is checked against a hash made once at start, so it
costs the same one scrypt as a known name: timing does not tell which names exist.

`Backoff` counts failed sign-ins per key (a name, an address): after `free` failures each further
try must wait, 1 s doubling up to `longest`; a success clears a name's count. The web guard asks it
before passing a sign-in on, per name and per address (`webguard.Guard`), and answers its refusals
to an address that keeps failing a second late (a tarpit): a client hammering in a loop then sends
about one request a second, whatever it tries.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from . import users as webusers

NAME_FAILURES = 5  # failed sign-ins for one name from one address before each try from there must wait
ADDRESS_FAILURES = 20  # ... from one address (a class behind one router shares it, so more)
LONGEST_WAIT = 300.0  # s: the back-off stops doubling here
FORGET_AFTER = 900.0  # s without a failure: the count starts again
TARPIT = 1.0  # s: how long a refusal waits before it answers an address that keeps failing
MAX_KEYS = 100_000  # names and addresses remembered before the stale ones are dropped


def checker(users: dict[str, str]) -> Callable[[str, str], Awaitable[bool]]:
    """The `auth` coroutine Gradio awaits on sign-in: (name, password) -> whether they match."""
    unknown = webusers.hash_password("", b"\0" * 16)  # made once: an unknown name costs one scrypt too
    gate: list[asyncio.Semaphore] = []  # made in the server's event loop, at the first sign-in

    async def check(name: str, password: str) -> bool:
        if not gate:
            gate.append(asyncio.Semaphore(1))  # one check at a time: a flood takes one core, not all
        async with gate[0]:
            matches = await asyncio.to_thread(webusers.verify, password, users.get(name, unknown))
        return matches and name in users

    return check


class Backoff:
    """Failed sign-ins per key, and how long the next try must wait; thread-safe."""

    def __init__(self, free: int, longest: float = LONGEST_WAIT, forget: float = FORGET_AFTER, clock=time.monotonic):
        self.free, self.longest, self.forget, self.clock = free, longest, forget, clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failed tries, when the last began)
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        with self._lock:
            return self._wait(key, self.clock())

    def attempt(self, key: str) -> float:
        """Start a try for `key` when it need not wait, counting it as failed until `succeeded`, so
        tries sent at once are all counted; else return the seconds to wait (nothing is counted)."""
        with self._lock:
            now = self.clock()
            wait = self._wait(key, now)
            if not wait:
                if len(self._failures) > MAX_KEYS:  # a flood of made-up names: forget the stale ones
                    self._failures = {k: v for k, v in self._failures.items() if now - v[1] <= self.forget}
                count, _ = self._failures.get(key, (0, now))
                self._failures[key] = (count + 1, now)
            return wait

    def count(self, key: str) -> int:
        """Failed tries of `key` remembered now."""
        with self._lock:
            count, last = self._failures.get(key, (0, 0.0))
            return count if self.clock() - last <= self.forget else 0

    def succeeded(self, key: str) -> None:
        """The try for `key` succeeded: its count starts again."""
        with self._lock:
            self._failures.pop(key, None)

    def refund(self, key: str) -> None:
        """Take back the count of one try for `key` that did not fail."""
        with self._lock:
            count, last = self._failures.get(key, (0, 0.0))
            if count > 1:
                self._failures[key] = (count - 1, last)
            else:
                self._failures.pop(key, None)

    def _wait(self, key: str, now: float) -> float:
        count, last = self._failures.get(key, (0, now))
        if now - last > self.forget:
            self._failures.pop(key, None)
            return 0.0
        if count < self.free:
            return 0.0
        return max(0.0, last + min(self.longest, 2.0 ** (count - self.free)) - now)


class SignIns:
    """The back-off for sign-ins per name at an address and per address, asked before and told after
    each one."""

    def __init__(self, clock=time.monotonic):
        self.names = Backoff(NAME_FAILURES, clock=clock)
        self.addresses = Backoff(ADDRESS_FAILURES, clock=clock)

    def begin(self, name: str, address: str) -> float:
        """0 when this sign-in may be checked now (then counted as failed until `end`), else the
        seconds the name or the address must still wait."""
        wait = self.names.attempt(_at(name, address))
        if wait:
            return wait
        wait = self.addresses.attempt(address)
        if wait:
            self.names.refund(_at(name, address))
        return wait

    def suspect(self, address: str) -> bool:
        """Whether `address` failed to sign in as often as one name may: its refusals answer slowly."""
        return self.addresses.count(address) >= NAME_FAILURES

    def end(self, name: str, address: str, signed_in: bool) -> None:
        """The sign-in `begin` let through is checked: a success clears the name's failures and takes
        back this try from the address's (whose other failures stay: one good account does not buy
        more guesses at the others)."""
        if signed_in:
            self.names.succeeded(_at(name, address))
            self.addresses.refund(address)


def _at(name: str, address: str) -> str:
    """The back-off key of a name tried from an address."""
    return f"{name}\0{address}"
