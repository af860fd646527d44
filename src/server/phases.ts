/**
 * Timestamps of a pool request's steps (TSSANDBOX_POOL_PROFILE=FILE): each process on
 * the path (client, server, worker) appends `PID STEP NS` lines, NS on CLOCK_MONOTONIC
 * (process.hrtime: the same clock in every process), so one request's steps line up
 * across the three, with the Gofer round trips made so far (count, ms). The file is opened at load: a confined worker opens no host path.
 * Unset, `phase()` is one test of a constant.
 */
import * as fs from 'node:fs';
import { goferCalls } from '../gofer/client';

const file = process.env.TSSANDBOX_POOL_PROFILE;
let fd = -1;
if (file) {
  try {
    fd = fs.openSync(file, 'a');
  } catch {
    fd = -1; // no profile: nothing else changes
  }
  goferCalls.timed = fd >= 0;
}
const lines: string[] = [];

/** Notes that step `name` was reached now. */
export function phase(name: string): void {
  if (fd >= 0) lines.push(`${process.pid} ${name} ${process.hrtime.bigint()} ${goferCalls.n} ${goferCalls.ms.toFixed(3)}\n`);
}

/** Writes the notes taken so far (off the timed path: after the reply). */
export function flushPhases(): void {
  if (fd < 0 || lines.length === 0) return;
  try {
    fs.writeSync(fd, lines.join(''));
  } catch {
    // a full disk loses a profile, nothing more
  }
  lines.length = 0;
}
