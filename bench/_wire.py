"""Random JSON values, params and damaged frames for the fuzzing rounds of ``faults.py``."""

from __future__ import annotations

import random
from typing import Any

from scribe_ls.rpc.methods import REQUEST_FIELDS

ODD = [
    "\ud800",
    "\udfff",
    "\x00",
    "\n",
    "\u2028",
    "é",
    "🙂",
    '"',
    "B-",
    "B-\u0661",  # an Arabic-Indic digit
    "../",
    "B-4242",
    "note",
    "json",
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.12:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 3 and roll < 0.22:
        return {random_string(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if roll < 0.27:
        return {"jsonrpc": "2.0", "id": rng.randrange(9), "method": rng.choice(["exit", "shutdown"])}
    return rng.choice(
        [
            None,
            True,
            False,
            rng.randrange(-(2**70), 2**70),
            rng.random() * 1e6,
            random_string(rng),
            rng.choice(ODD),
        ]
    )


def random_string(rng: random.Random) -> str:
    pieces = [
        rng.choice(ODD) if rng.random() < 0.3 else chr(rng.randrange(32, 0x2FFF))
        for _ in range(rng.randrange(20))
    ]
    return "".join(pieces)


def random_params(rng: random.Random, method: str) -> Any:
    if rng.random() < 0.15:
        return random_value(rng)
    return {name: random_value(rng) for name in REQUEST_FIELDS[method] if rng.random() < 0.6}


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def damaged_frame(rng: random.Random, body: bytes) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return b"content-length: %d\r\n\r\n" % len(body) + body
    if kind == 1:
        return b"Content-Length: %d\r\n\r\n" % (len(body) + rng.randrange(1, 5)) + body
    if kind == 2:
        return b"Content-Length: %d\r\n\r\n" % max(1, len(body) - rng.randrange(1, 5)) + body
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) + frame(body)
