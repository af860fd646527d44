// The OCI config.json validator, compiled once at build (ajv's standalone code) into
// dist/oci-validator.js: compiling the runtime-spec schema at every `create` cost
// ~200 ms (src/oci/bundle.ts loads this file, and compiles the schema only without it).
import { createRequire } from 'module';
import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { compileSchema } = require(path.join(root, 'dist', 'src', 'oci', 'bundle.js'));
const standalone = require('ajv/dist/standalone').default;
const { ajv, validate } = compileSchema(true);
fs.writeFileSync(path.join(root, 'dist', 'oci-validator.js'), standalone(ajv, validate));
