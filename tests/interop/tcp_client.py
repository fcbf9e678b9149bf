"""Linux-side TCP clients for the interop tests, run inside the test's namespace.

  tcp_client.py refused HOST PORT          expects ECONNREFUSED; prints "refused"
  tcp_client.py halfclose HOST PORT N      sends N bytes, shutdown(SHUT_WR), reads to EOF;
                                           prints the first line and "LENGTH SHA256" of the rest
  tcp_client.py many HOST PORT N           N connections open at once, each echoed; prints "ok N"

Every socket operation has a timeout, so a stalled stack fails the test instead of hanging it.
"""

import asyncio
import errno
import hashlib
import socket
import sys

TIMEOUT = 20


def refused(host, port):
    s = socket.socket()
    s.settimeout(TIMEOUT)
    try:
        s.connect((host, port))
    except ConnectionRefusedError as e:
        assert e.errno == errno.ECONNREFUSED
        print("refused")
        return 0
    except OSError as e:
        print(f"unexpected error {e!r}")
        return 1
    print("connected")
    return 1


def halfclose(host, port, n):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    data = bytes(i & 0xFF for i in range(n))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    chunks = []
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    s.close()
    got = b"".join(chunks)
    line, _, rest = got.partition(b"\n")
    print(line.decode())
    print(len(rest), hashlib.sha256(rest).hexdigest())
    return 0


async def many(host, port, n):
    async def open_one(i):
        return await asyncio.open_connection(host, port)

    # Every connection is established before any sends, so all N are open at once.
    conns = await asyncio.wait_for(
        asyncio.gather(*(open_one(i) for i in range(n))), TIMEOUT
    )
    messages = [f"connection {i} says hello {'x' * (i % 97)}\n".encode() for i in range(n)]
    for (_, writer), message in zip(conns, messages):
        writer.write(message)

    async def check(i):
        reader, writer = conns[i]
        got = await reader.readexactly(len(messages[i]))
        assert got == messages[i], f"connection {i} got {got!r}"
        writer.write_eof()
        rest = await reader.read()
        assert rest == b"", f"connection {i} got extra {rest!r}"
        writer.close()

    await asyncio.wait_for(asyncio.gather(*(check(i) for i in range(n))), TIMEOUT)
    print(f"ok {n}")
    return 0


def main(argv):
    cmd, host, port = argv[1], argv[2], int(argv[3])
    if cmd == "refused":
        return refused(host, port)
    if cmd == "halfclose":
        return halfclose(host, port, int(argv[4]))
    if cmd == "many":
        return asyncio.run(many(host, port, int(argv[4])))
    print(f"unknown command {cmd}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
