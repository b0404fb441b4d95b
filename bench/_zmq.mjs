import * as zmq from 'zeromq';
const r = new zmq.Router({ mandatory: true, sendHighWaterMark: 10000 });
await r.bind('tcp://127.0.0.1:5612');
const dealers = [];
for (let i = 0; i < 200; i++) { const d = new zmq.Dealer({ routingId: 'd' + i }); d.connect('tcp://127.0.0.1:5612'); dealers.push(d); await d.send('hi'); }
for (let i = 0; i < 200; i++) await r.receive();
const msg = Buffer.alloc(300);
let t = process.hrtime.bigint();
for (let i = 0; i < 20000; i++) await r.send(['d' + (i % 200), msg]);
console.log('await send', Number(process.hrtime.bigint() - t) / 20000 / 1000, 'us');
t = process.hrtime.bigint();
const ps = [];
for (let i = 0; i < 20000; i++) { try { ps.push(r.send(['d' + (i % 200), msg])); } catch (e) { console.log('err', e.message); break; } }
await Promise.all(ps);
console.log('sync sends', Number(process.hrtime.bigint() - t) / 20000 / 1000, 'us');
process.exit(0);
