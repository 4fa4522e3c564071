"""The other way to take a coding agent's hooks, built only to be measured against the
command hook (bench/hooks.py): an HTTP hook (Claude Code's ``type: "http"``, a POST of the
same JSON payload) answered by a long-running process that holds the store open, as the
background recorder would. Loopback only, a token header, the same records as the command
hook (``agents.hooks.records``) written through the async service's group commit.

    python bench/_http_hook_server.py ROOT TOKEN   # prints the port, serves until stdin closes
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sys
from pathlib import Path

from scribe_ls.agents.hooks import author_of, records
from scribe_ls.core.service import Scribe

MAX_BODY = 16 << 20


async def main(root: Path, token: str) -> None:
    async with Scribe(root, daemon=False) as scribe:
        session = await scribe.start_session()

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            status = b"200 OK"
            try:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ", 2)
                headers = {
                    k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)
                }
                length = int(headers.get("content-length", "0"))
                if not hmac.compare_digest(headers.get("authorization", ""), f"Bearer {token}"):
                    status = b"401 Unauthorized"
                elif method != "POST" or length > MAX_BODY:
                    status = b"400 Bad Request"
                else:
                    payload = json.loads(await reader.readexactly(length))
                    event = path.rsplit("/", 1)[-1]
                    for record in records(event, payload, root):
                        await scribe.append_entry(
                            record.text,
                            record.kind,
                            session.id,
                            record.files,
                            author=author_of("claude-code", payload),
                        )
            except (ValueError, asyncio.IncompleteReadError):
                status = b"400 Bad Request"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.to_thread(sys.stdin.read)  # until the bench closes our stdin
        server.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
