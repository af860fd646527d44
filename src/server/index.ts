/** The warm pool's entry points, for src/cli (the command line) and src/api (the library). */
export { parseServeArgs, serveMain, ServeUsageError } from './serve';
export { poolWorkerMain } from './worker';
export { runVia, sharedSocketOf, startVia, streamPairs, viaMain, ViaError, type ViaOptions, type ViaRun } from './client';
