#!/usr/bin/env node
// Stable entry for the package bin: exists before the TypeScript build, so pnpm can link it on a fresh clone.
import '../dist/cli.js';
