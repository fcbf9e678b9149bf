import assert from "node:assert/strict";
import { Logger, type LogLevel, logLevel, setLogLevel, setLogSink } from "./log.ts";

Deno.test("logger is silent by default and honours levels", () => {
  const lines: string[] = [];
  const previous = setLogSink((level, scope, message) =>
    lines.push(`${level} ${scope} ${message}`)
  );
  const before = logLevel();
  try {
    setLogLevel("silent");
    const log = new Logger("arp");
    log.error("nothing");
    assert.deepEqual(lines, []);
    setLogLevel("warn");
    log.error("e");
    log.warn("w");
    log.info("i");
    log.debug("d");
    assert.deepEqual(lines, ["error arp e", "warn arp w"]);
    setLogLevel("debug");
    assert.equal(log.enabled("debug"), true);
    assert.equal(log.enabled("silent" as LogLevel), false);
  } finally {
    setLogLevel(before);
    setLogSink(previous);
  }
});
