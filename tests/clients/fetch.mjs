// Drives a weblock server with Node's built-in fetch, as a Node client would: a grab, a long-poll
// hand-over, a release, and an over-limit body (answered 413, not a socket error).
// Usage: node fetch.mjs HOST PORT. Prints "ok" and exits 0, or exits 1 with the error.
const [host, port] = process.argv.slice(2);
const base = `http://${host}:${port}`;
const form = (fields) => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
const check = (cond, what) => {
  if (!cond) throw new Error(what);
};
// An answer's status and JSON body, read once.
const answer = async (r) => ({ status: r.status, body: JSON.parse(await r.text()) });

try {
  let r = await answer(await fetch(`${base}/grab`, form({ id: "node-db", ttl: "60" })));
  check(r.status === 200, `grab: ${JSON.stringify(r)}`);
  const first = r.body.token;

  const waiting = fetch(`${base}/grab`, form({ id: "node-db", wait: "30" }));
  const deadline = Date.now() + 10000;
  for (;;) {
    const s = await (await fetch(`${base}/status?id=node-db`)).json();
    if (s.waiting >= 1) break;
    check(Date.now() < deadline, "the waiter never got in line");
    await new Promise((done) => setTimeout(done, 10));
  }
  r = await answer(await fetch(`${base}/release`, form({ id: "node-db", token: first })));
  check(r.status === 200, `release: ${JSON.stringify(r)}`);
  r = await answer(await waiting);
  check(r.status === 200, `hand-over: ${JSON.stringify(r)}`);
  const second = r.body.token;
  check(second !== first, "a new token");
  r = await answer(await fetch(`${base}/release`, form({ id: "node-db", token: second })));
  check(r.status === 200, `second release: ${JSON.stringify(r)}`);

  r = await answer(
    await fetch(`${base}/grab`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "id=node-db&pad=" + "x".repeat(2 * 1024 * 1024),
    }),
  );
  check(r.status === 413, `over-limit body: ${JSON.stringify(r)}`);
  check(r.body.reason.includes("too large"), "its reason");
  console.log("ok");
} catch (e) {
  console.error(e);
  process.exit(1);
}
