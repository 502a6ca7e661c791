/**
 * How tests start the `fleetjobs` command: the built one, `node dist/cli/main.js`, as a user runs it.
 * scripts/run-tests.mjs rebuilds dist/ before the tests when it is older than src/, so it is the code
 * under test; a process then starts about a second sooner than one compiling the TypeScript with tsx
 * (the suites start some hundred). `FLEETJOBS_TEST_CLI=tsx`, or a dist/ that is missing, runs the
 * sources through tsx instead.
 */
import { existsSync } from 'node:fs'

const BUILT = new URL('../../dist/cli/main.js', import.meta.url).pathname
const SOURCE = new URL('../../src/cli/main.ts', import.meta.url).pathname

/** The node arguments that run `fleetjobs`; append the command and its flags. */
export const CLI: readonly string[] =
  process.env['FLEETJOBS_TEST_CLI'] !== 'tsx' && existsSync(BUILT)
    ? [BUILT]
    : ['--import', import.meta.resolve('tsx'), SOURCE]

/** The file the command runs from (its permissions matter to tests that run it as another user). */
export const CLI_ENTRY = CLI.at(-1)!
