// Client process of the Tang storm (forked by tang.mjs): its share of the recoveries, all
// started at the same instant, each on its own TCP connection.
import { clientStorm } from './peer-clients.mjs';
import { post } from './tang.mjs';

process.on('message', async (m) => {
  if (m.type === 'ready?') process.send({ type: 'ready' });
  if (m.type !== 'go') return;
  const attempt = () => post(m.port, m.path, m.body, m.attemptTimeoutMs);
  const check = (_, data) => {
    const { kty, crv, x, y } = JSON.parse(data);
    if (kty !== m.expect.kty || crv !== m.expect.crv || x !== m.expect.x || y !== m.expect.y) return 'answer is not the recovery key';
  };
  process.send({ type: 'done', ...(await clientStorm(m, attempt, check)) });
});
