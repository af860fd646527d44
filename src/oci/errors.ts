/** An error in the runtime's input or a container's state: one line, non-zero exit, no trace. */
export class OciError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}

export function fail(message: string, code = 1): never {
  throw new OciError(message, code);
}
