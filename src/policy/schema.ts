/**
 * The policy file's JSON schema (draft-07, validated with ajv). Published as
 * docs/schemas/policy.schema.json (test/ci checks the two are the same).
 */
const stringList = { type: 'array', items: { type: 'string', minLength: 1 } };
const limitValue = { type: ['string', 'number'] };

export const POLICY_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tssandbox.dev/schemas/policy.schema.json',
  title: 'tssandbox policy',
  type: 'object',
  additionalProperties: false,
  properties: {
    filesystem: {
      type: 'object',
      additionalProperties: false,
      properties: {
        hide: stringList,
        readonly: stringList,
        readwrite: { type: 'array', items: { type: 'string', pattern: '^/[^:]*:/[^:]*$' } },
      },
    },
    env: {
      type: 'object',
      additionalProperties: false,
      properties: {
        allow: stringList,
        set: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
      },
    },
    network: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['none', 'host', 'sandbox', 'user'] },
        allow: stringList,
        deny: stringList,
      },
    },
    exec: {
      type: 'object',
      additionalProperties: false,
      properties: { allow: stringList, deny: stringList },
    },
    syscalls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        deny: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9_]+(:E[A-Z0-9]+)?$' } },
        errno: { type: 'string', pattern: '^E[A-Z0-9]+$' },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        'timeout': limitValue, 'cpu-time': limitValue, 'memory': limitValue, 'pids': limitValue,
        'nofile': limitValue, 'output': limitValue, 'disk': limitValue,
      },
    },
  },
} as const;

export interface PolicyDoc {
  filesystem?: { hide?: string[]; readonly?: string[]; readwrite?: string[] };
  env?: { allow?: string[]; set?: Record<string, string | number | boolean> };
  network?: { mode?: 'none' | 'host' | 'sandbox' | 'user'; allow?: string[]; deny?: string[] };
  exec?: { allow?: string[]; deny?: string[] };
  syscalls?: { deny?: string[]; errno?: string };
  limits?: Partial<Record<'timeout' | 'cpu-time' | 'memory' | 'pids' | 'nofile' | 'output' | 'disk', string | number>>;
}
