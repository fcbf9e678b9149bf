import assert from "node:assert/strict";

const HTTP_ECHO = new URL("../../apps/http_echo.ts", import.meta.url).pathname;

/** Reads `stream` until `pattern` shows up; returns the text read so far. */
async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!pattern.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text;
}

Deno.test("http_echo --nic memory: the address comes from the interface, counters print at exit", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", HTTP_ECHO, "--nic", "memory", "--ip", "10.0.0.7/24"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    const out = await readUntil(child.stdout, /listening on /);
    assert.match(out, /^http_echo listening on http:\/\/10\.0\.0\.7:80\/ \(nic memory\)$/m);
  } finally {
    child.kill("SIGTERM");
  }
  await child.stdout.cancel();
  const [status, err] = await Promise.all([child.status, stderr]);
  assert.equal(status.code, 0, err);
  assert.match(err, /^Counters:$/m);
  assert.match(err, /^ {2}nic: rxFrames=\d+/m);
  assert.match(err, /^ {2}eth: rxPackets=\d+/m);
});
