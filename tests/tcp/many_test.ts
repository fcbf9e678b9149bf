/** Many connections: 10,000 concurrent connections through one listener, each echoing a message. */
import assert from "node:assert/strict";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { TcpEvent } from "../../stack/layer/tcp/events.ts";
import { ADDR_B, Sim } from "./sim.ts";

const COUNT = 10_000;

Deno.test(`many: ${COUNT} concurrent connections through one listener each echo a message`, () => {
  const sim = new Sim({ seed: 9, tcp: { recvBufferSize: 4096, sendBufferSize: 4096 } });
  const encoder = new TextEncoder();
  const buf = new Uint8Array(64);
  let accepted = 0;
  let peak = 0;
  sim.tcpB.listen(7, {
    backlog: COUNT,
    handler: {
      receive: (event: TcpEvent) => {
        if (event.kind !== "open") return;
        for (let conn = event.listener.accept(); conn; conn = event.listener.accept()) {
          accepted++;
          const server: TcpConnection = conn;
          server.handler = {
            receive: () => {
              // Echo whatever arrived, then close once the client closed.
              while (server.readable > 0) {
                const n = server.read(buf);
                server.write(buf, 0, n);
              }
              if (server.readClosed) server.closeWrite();
            },
          };
        }
      },
    },
  });
  const echoed = new Array<string>(COUNT).fill("");
  const clients: TcpConnection[] = [];
  for (let i = 0; i < COUNT; i++) {
    const message = `message ${i}`;
    const client = sim.tcpA.connect(ADDR_B, 7, {
      handler: {
        receive: () => {
          if (client.readable > 0) {
            const n = client.read(buf);
            echoed[i] += new TextDecoder().decode(buf.subarray(0, n));
          }
        },
      },
    });
    client.write(encoder.encode(message));
    clients.push(client);
  }
  // Every connection stays open until all messages are back, so all of them are open at once.
  const echoedAll = sim.run(() => echoed.every((e, i) => e === `message ${i}`), 600_000);
  assert.ok(echoedAll, `stalled: ${echoed.filter((e, i) => e === `message ${i}`).length} echoed`);
  peak = sim.tcpB.connectionCount;
  for (const client of clients) client.closeWrite();
  const closed = sim.run(() => clients.every((c) => c.finReceived), 600_000);
  assert.ok(closed, "the closing handshakes stalled");
  assert.equal(accepted, COUNT);
  assert.equal(peak, COUNT, "all connections were open at once");
  assert.equal(sim.tcpB.stats.synCookiesSent, 0);
});
