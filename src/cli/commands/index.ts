// The command table: one entry per sub-command, in --help order. Add a command by adding a file and a line.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { registerData } from './data.ts';
import { registerTokenize } from './tokenize.ts';
import { registerTrain } from './train.ts';
import { registerEval } from './eval.ts';
import { registerPredict } from './predict.ts';
import { registerDemo } from './demo.ts';
import { registerPlan } from './plan.ts';
import { registerFit } from './fit.ts';
import { registerDoctor } from './doctor.ts';
import { registerReport } from './report.ts';
import { registerServe } from './serve.ts';
import { registerImportDeepke } from './import-deepke.ts';
import { registerExport } from './export.ts';
import { registerEnv } from './env.ts';

/** Adds one sub-command (and its options) to the program. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;

export const COMMANDS: readonly RegisterCommand[] = Object.freeze([
  registerTrain,
  registerEval,
  registerPredict,
  registerExport,
  registerDemo,
  registerPlan,
  registerFit,
  registerDoctor,
  registerData,
  registerTokenize,
  registerReport,
  registerServe,
  registerImportDeepke,
  registerEnv,
]);
