"""The web server's users: an auth file of `name:scrypt$n$r$p$salt$hash` lines (salted scrypt from
the standard library; no password is ever stored), read, checked and added to.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from ..errors import OptionsError
from ..media.files import write_text_atomic

SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~16 MiB and ~50 ms per check: slow to guess, quick to sign in
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
# The most one check may cost (16x the default's work): a line with larger parameters would let one
# sign-in take seconds of a core and gigabytes of memory.
MAX_SCRYPT = {"n": 2**16, "r": 16, "p": 4, "work": 16 * SCRYPT["n"] * SCRYPT["r"] * SCRYPT["p"]}


def hash_password(
    password: str, salt: bytes | None = None, n: int = SCRYPT["n"], r: int = SCRYPT["r"], p: int = SCRYPT["p"]
) -> str:
    """`scrypt$n$r$p$salt$hash` (hex) for `password` with a fresh 16-byte salt."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify(password: str, stored: str) -> bool:
    """Whether `password` matches a `hash_password` string (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or not _well_formed(stored):
            return False
        again = hash_password(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(again.rsplit("$", 1)[1], digest)


def read(path: str | os.PathLike) -> dict[str, str]:
    """{name: stored hash} from an auth file; raises OptionsError naming the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise OptionsError(
            f"auth file {path}: no such file; create users with 'painterly web --add-user NAME --auth-file {path}'"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionsError(f"auth file {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    users = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, stored = line.strip().partition(":")
        if not NAME.match(name) or not _well_formed(stored):
            raise OptionsError(f"auth file {path}, line {number}: expected NAME:scrypt$... as written by --add-user")
        if name in users:
            raise OptionsError(f"auth file {path}, line {number}: {name} again (one line per user)")
        users[name] = stored
    if not users:
        raise OptionsError(
            f"auth file {path}: no users; add one with 'painterly web --add-user NAME --auth-file {path}'"
        )
    return users


def _well_formed(stored: str) -> bool:
    """`scrypt$n$r$p$salt$hash` with numbers and hex where they belong."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or not all(x.isdigit() for x in parts[1:4]):
        return False
    n, r, p = (int(x) for x in parts[1:4])
    if not (2 <= n <= MAX_SCRYPT["n"] and n & (n - 1) == 0 and 1 <= r <= MAX_SCRYPT["r"] and 1 <= p <= MAX_SCRYPT["p"]):
        return False
    if n * r * p > MAX_SCRYPT["work"]:
        return False
    try:
        return len(bytes.fromhex(parts[4])) > 0 and len(bytes.fromhex(parts[5])) == 32
    except ValueError:
        return False


def others_can_read(path: str | os.PathLike) -> bool:
    """Whether the auth file's group or others may read or write it (it should be 0600)."""
    return bool(Path(path).stat().st_mode & 0o077)


def add(path: str | os.PathLike, name: str, password: str) -> bool:
    """Add user `name` (or replace their password) in the auth file, created if missing, written
    atomically and readable by its owner only. Returns True when the user is new."""
    if not NAME.match(name):
        raise OptionsError(f"user name {name!r}: use 1 to 64 letters, digits and . _ @ -")
    if len(password) < MIN_PASSWORD:
        raise OptionsError(f"password: at least {MIN_PASSWORD} characters")
    path = Path(path)
    users = read(path) if path.exists() and path.stat().st_size else {}
    new = name not in users
    users[name] = hash_password(password)
    text = "".join(f"{user}:{stored}\n" for user, stored in users.items())
    write_text_atomic(path, text, "auth file", private=True)
    return new
