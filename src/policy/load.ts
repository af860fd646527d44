/**
 * Reading a policy (`--policy FILE`, YAML or JSON, or an object from the library API):
 * validated against POLICY_SCHEMA with ajv; an error is one line naming the bad key and,
 * for a file, its line.
 */
import * as fs from 'fs';
import { POLICY_SCHEMA, type PolicyDoc } from './schema';
import { launchedText } from '../platform/launched-files';

export class PolicyError extends Error {}

type Validator = ((d: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string; params: Record<string, unknown>; keyword: string }> | null };
let validator: Validator | null = null;

function validate(): Validator {
  if (validator !== null) return validator;
  // Loaded only when a policy is given (ajv is large; scripts/bundle.mjs keeps it out).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Ajv = require('ajv').default ?? require('ajv');
  const ajv = new Ajv({ strict: false, allErrors: false });
  validator = ajv.compile(POLICY_SCHEMA) as Validator;
  return validator;
}

/** "/filesystem/hide/0" -> ["filesystem", "hide", 0]. */
function segments(instancePath: string): Array<string | number> {
  return instancePath.split('/').slice(1).map((s) => {
    const k = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(k) ? Number(k) : k;
  });
}

function keyName(segs: Array<string | number>): string {
  let out = '';
  for (const s of segs) out += typeof s === 'number' ? `[${s}]` : (out ? '.' : '') + s;
  return out || '(top level)';
}

/** Checks a policy object; the error names the bad key (lineOf gives its line, for a file). */
export function checkPolicy(doc: unknown, where: string, lineOf: (segs: Array<string | number>) => number | null = () => null): PolicyDoc {
  const v = validate();
  if (v(doc)) return doc as PolicyDoc;
  const e = v.errors![0];
  const segs = segments(e.instancePath);
  let key = keyName(segs);
  let msg = e.message ?? 'is not valid';
  if (e.keyword === 'additionalProperties') {
    const extra = String(e.params.additionalProperty);
    segs.push(extra);
    key = keyName(segs);
    msg = 'is not a known key';
  } else if (e.keyword === 'enum') {
    msg = `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  }
  const line = lineOf(segs);
  throw new PolicyError(`${where}${line !== null ? `:${line}` : ''}: ${key} ${msg}`);
}

/** Reads and checks a policy file (JSON is YAML too: one parser gives both their lines). */
export function loadPolicyFile(file: string): PolicyDoc {
  let text: string;
  try {
    // Opened by the native front when it put the Sentry in its own user namespace (the
    // file may be where the Sentry's uid cannot reach).
    text = launchedText(file, 'utf8') ?? fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PolicyError(`--policy ${file}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const YAML = require('yaml') as typeof import('yaml');
  const lc = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const at = lc.linePos(err.pos[0]);
    throw new PolicyError(`${file}:${at.line}: ${err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const data = doc.toJS() ?? {};
  const lineOf = (segs: Array<string | number>): number | null => {
    // The deepest node that exists on the path (an unknown key: its own pair's key).
    for (let n = segs.length; n >= 0; n--) {
      const parent = n > 0 ? doc.getIn(segs.slice(0, n - 1), true) : doc.contents;
      let node: unknown = n > 0 ? doc.getIn(segs.slice(0, n), true) : doc.contents;
      if (n > 0 && YAML.isMap(parent)) {
        const pair = parent.items.find((p) => YAML.isScalar(p.key) && p.key.value === segs[n - 1]);
        if (pair) node = pair.key;
      }
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) return lc.linePos(range[0]).line;
    }
    return null;
  };
  return checkPolicy(data, file, lineOf);
}
