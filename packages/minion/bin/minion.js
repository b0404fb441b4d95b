#!/usr/bin/env node
// Stable entry for the package bin: exists before the build, so pnpm can link it on a fresh clone.
// Runs the bundled CLI (scripts/bundle.mjs) that the build makes from dist/.
import '../dist/bundle/cli.js';
