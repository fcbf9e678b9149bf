import assert from "node:assert/strict";
import { canReceiveData, isSynchronized, TcpState, tcpStateName } from "./state.ts";

Deno.test("state: names follow RFC 9293", () => {
  assert.equal(tcpStateName(TcpState.SynReceived), "SYN-RECEIVED");
  assert.equal(tcpStateName(TcpState.TimeWait), "TIME-WAIT");
  assert.equal(Object.keys(TcpState).length, 11);
});

Deno.test("state: synchronized states and those that take data", () => {
  assert.equal(isSynchronized(TcpState.SynReceived), false);
  assert.equal(isSynchronized(TcpState.Established), true);
  assert.equal(isSynchronized(TcpState.TimeWait), true);
  assert.equal(canReceiveData(TcpState.FinWait2), true);
  assert.equal(canReceiveData(TcpState.CloseWait), false);
});
