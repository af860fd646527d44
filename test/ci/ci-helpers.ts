/** Shared by the CI-mode tests: scratch files, reading a report, validating it against the published schema. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../helpers/paths';

export const GUESTS = path.join(__dirname, 'guests');

export function scratch(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tss-ci-${tag}-`));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Report = any;

let validator: ((d: unknown) => boolean) & { errors?: unknown } | null = null;

/** Validates a report against docs/schemas/audit-report.schema.json (ajv); returns the errors or null. */
export function schemaErrors(report: unknown): string | null {
  if (validator === null) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const Ajv = require('ajv').default ?? require('ajv');
    const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'schemas', 'audit-report.schema.json'), 'utf8'));
    validator = new Ajv({ strict: true, allErrors: true }).compile(schema);
  }
  return validator!(report) ? null : JSON.stringify(validator!.errors);
}

export function readReport(file: string): Report {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}
