#!/usr/bin/env node
// Stable entry for the package bin: exists before the build, so pnpm can link it on a fresh clone.
// Runs the bundled CLI (scripts/bundle.mjs) that the build makes from dist/.
import { setFlagsFromString } from 'node:v8';

// A minion runs each job's code a few dozen times an hour: with V8's default budget (66 KiB of
// bytecode) it sends most of that code to the optimizing compiler, whose background work cost
// more CPU than the jobs themselves. Fifteen times the budget leaves only truly hot loops
// (crypto, parsing a large file) to be optimized. Set before any of Brine's code is loaded.
setFlagsFromString('--interrupt-budget=1013760');

await import('../dist/bundle/cli.js');
