// `refit doctor [FILE|-] [-c CONFIG|conf/] [key=value…] [--json]`: reads an OOM report from a log (or stdin),
// explains it and suggests fixes. Reading the input and printing are here; parsing and diagnosis live in
// src/memory/doctor.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { RefitError } from '../../errors.ts';
import { readLengths } from '../memory-flags.ts';
import {
  configFixesFor,
  doctorJson,
  engineFromLog,
  formatDoctorText,
  runDoctor,
} from '../../memory/doctor/index.ts';

interface DoctorFlags {
  config?: string;
  json?: boolean;
  gpu?: string;
  engine?: string;
  lengthsFrom?: string;
}

/** Registers `refit doctor`. */
export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('explain an out-of-memory error from a log (FILE, or stdin) and suggest fixes')
    .argument('[file]', 'log file with the error; "-" or nothing reads stdin')
    .argument(
      '[overrides...]',
      "config overrides with -c, as key=value (DeepKE's too: num_hidden_layers=12 batch_size=16 model=lm)",
    )
    .option(
      '-c, --config <file|conf/>',
      'the run config (YAML) or a DeepKE conf folder: fixes become concrete config changes with predicted peaks',
    )
    .option('--gpu <name|size>', 'the card (for bf16 support and speed) when planning with -c')
    .option(
      '--engine <refit|hf>',
      'which program ran out of memory, for planning with -c (default: hf for a DeepKE conf folder or when ' +
        'the traceback shows transformers or DeepKE, else refit)',
    )
    .option(
      '--lengths-from <file>',
      'example lengths (integers) of the training data: fixes may switch to dynamic padding',
    )
    .option('--json', 'print one JSON object')
    .action(async (first: string | undefined, rest: string[], flags: DoctorFlags) => {
      // `refit doctor -c conf/ batch_size=16 < oom.log`: a first argument that is an override, not a file, reads stdin.
      const overridden = first !== undefined && first.includes('=') && !existsSync(first);
      const file = overridden ? undefined : first;
      const overrides = overridden ? [first!, ...rest] : rest;
      if (overrides.length > 0 && !flags.config) {
        throw new RefitError(
          'E_OPTION',
          `refit doctor: ${overrides[0]}: key=value overrides need -c CONFIG (the run config they change)`,
        );
      }
      const text = await readInput(file, ctx);
      if (flags.engine !== undefined && flags.engine !== 'refit' && flags.engine !== 'hf') {
        throw new RefitError('E_DOCTOR_ENGINE', `--engine: expected refit or hf, got '${flags.engine}'`);
      }
      const configFixes = flags.config
        ? configFixesFor({
            config_path: flags.config,
            overrides,
            gpu: flags.gpu,
            engine: flags.engine,
            log_engine: engineFromLog(text),
            env: ctx.env,
            warn: (line) => ctx.io.stderr.write(`refit: warning: ${line}\n`),
            lengths: flags.lengthsFrom ? Array.from(readLengths(flags.lengthsFrom)) : undefined,
          })
        : undefined;
      const result = runDoctor({ text, configFixes });
      if (flags.json) ctx.io.stdout.write(JSON.stringify(doctorJson(result), null, 2) + '\n');
      else ctx.io.stdout.write(formatDoctorText(result, Math.min(ctx.io.stdout.columns ?? 100, 120)));
    });
}

async function readInput(file: string | undefined, ctx: CliContext): Promise<string> {
  if (file === undefined || file === '-') {
    if (file === undefined && (ctx.io.stdin as Readable & { isTTY?: boolean }).isTTY) {
      throw new RefitError(
        'E_DOCTOR_INPUT',
        'refit doctor: give a log file, or pipe the log in (… 2>&1 | refit doctor -)',
      );
    }
    return readStream(ctx.io.stdin);
  }
  try {
    if (statSync(file).isDirectory())
      throw new RefitError('E_DOCTOR_INPUT', `${file}: is a folder, not a log file`);
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof RefitError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new RefitError(
      'E_DOCTOR_INPUT',
      `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(e)})`}`,
    );
  }
}

async function readStream(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
