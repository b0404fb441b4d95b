#!/usr/bin/env node
// Boot storm against Tang alone (bench/storm.mjs runs it next to Brine's and prints ratios).
// Usage: node bench/tang.mjs [--n 100,1000,10000] [--workers 4] [--timeout SECONDS] [--attempt-timeout SECONDS]
// Clients wait for an answer as long as the storm may last, as clevis's curl does (no timeout;
// the kernel's SYN retries give up after ~2 min); --attempt-timeout makes them give up and retry sooner.
// Installs tang-common, clevis, jose and socat with apt-get when missing (needs root).
import { printTang, stormTang } from './lib/tang.mjs';
import { arg } from './lib/args.mjs';

const sizes = arg('n', '100,1000,10000').split(',').map(Number);
const workers = Number(arg('workers', '4'));
const seconds = (name) => (arg(name) === undefined ? undefined : Number(arg(name)));
const options = { timeoutS: seconds('timeout'), attemptTimeoutS: seconds('attempt-timeout') };
const tang = [];
for (const n of sizes) tang.push(await stormTang({ n, workers, ...options }));
console.log(JSON.stringify({ tang }));
printTang(tang);
