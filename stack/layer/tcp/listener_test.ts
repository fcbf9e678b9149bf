import assert from "node:assert/strict";
import type { TcpConnection } from "./connection.ts";
import { TcpListenerHandle } from "./listener.ts";

function fakeConn(port: number): TcpConnection {
  let aborted = false;
  return {
    listenerPort: port,
    accepted: false,
    abort() {
      aborted = true;
    },
    get aborted() {
      return aborted;
    },
  } as unknown as TcpConnection;
}

Deno.test("listener: the backlog counts half-open and unaccepted connections", () => {
  const l = new TcpListenerHandle(80, 0, 2, undefined, () => {});
  l.synReceived = 1;
  assert.equal(l.full, false);
  l.enqueue(fakeConn(80));
  assert.equal(l.full, true);
  const conn = l.accept()!;
  assert.equal(conn.accepted, true);
  assert.equal(conn.listenerPort, -1);
  assert.equal(l.full, false);
});

Deno.test("listener: a connection that closed before accept is skipped", () => {
  const l = new TcpListenerHandle(80, 0, 8, undefined, () => {});
  const gone = fakeConn(80);
  const next = fakeConn(80);
  l.enqueue(gone);
  l.enqueue(next);
  l.forget(gone);
  assert.equal(l.accept(), next);
  assert.equal(l.accept(), undefined);
});

Deno.test("listener: close resets what was never accepted", () => {
  let closed = 0;
  const l = new TcpListenerHandle(80, 0, 8, undefined, () => closed++);
  const conn = fakeConn(80);
  l.enqueue(conn);
  l.close();
  l.close();
  assert.equal(closed, 1);
  assert.equal((conn as unknown as { aborted: boolean }).aborted, true);
  assert.equal(l.closed, true);
});
