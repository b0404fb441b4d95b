// Client process of the Tang storm (forked by tang.mjs): its share of the recoveries, all
// started at the same instant, each on its own TCP connection.
import { post } from './tang.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

process.on('message', async (m) => {
  if (m.type === 'ready?') process.send({ type: 'ready' });
  if (m.type !== 'go') return;
  await sleep(Math.max(0, m.startAt - Date.now()));
  const latencies = [];
  const errorSamples = new Set();
  const retryReasons = {};
  let errors = 0;
  let retries = 0;
  let lastDoneAt = 0;
  const fail = (why) => {
    errors++;
    errorSamples.add(why);
  };
  await Promise.all(
    Array.from({ length: m.count }, async () => {
      for (let attempt = 1; ; attempt++) {
        let why;
        try {
          const { status, data } = await post(m.port, m.path, m.body, m.attemptTimeoutMs);
          if (status === 200) {
            const { kty, crv, x, y } = JSON.parse(data);
            if (kty !== m.expect.kty || crv !== m.expect.crv || x !== m.expect.x || y !== m.expect.y) return fail('answer is not the recovery key');
            const now = Date.now();
            latencies.push(now - m.startAt);
            lastDoneAt = Math.max(lastDoneAt, now);
            return;
          }
          if (status < 500) return fail(`HTTP ${status}`);
          why = `HTTP ${status}`;
        } catch (err) {
          why = err.code ?? err.message;
        }
        if (attempt >= m.maxAttempts) return fail(why);
        // Jittered exponential backoff, as a well-behaved booting client would retry.
        retries++;
        retryReasons[why] = (retryReasons[why] ?? 0) + 1;
        await sleep(200 * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      }
    }),
  );
  process.send({ type: 'done', latencies, errors, retries, lastDoneAt, errorSamples: [...errorSamples], retryReasons });
});
