#!/usr/bin/env node
// The refit command: the only place that reads process.env and calls process.exit.
import { main } from '../dist/refit.mjs';

const code = await main(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  process.env,
);
process.exitCode = code;
