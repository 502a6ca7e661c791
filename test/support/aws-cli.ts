/**
 * The unmodified AWS CLI v2 for tests: found on PATH (the first
 * `aws` that is version 2), run in a hermetic environment, with the checks of its exit codes.
 * The CLI is the Debian package `awscli` (v2); `.ci/run` installs it when missing.
 */
import { execFile, execFileSync } from 'node:child_process'
import type { ExecFileException } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import assert from 'node:assert/strict'

const INSTALL_HINT =
  'install the AWS CLI v2 with the Debian package: `apt-get install -y awscli` (CI installs it in .ci/run)'
/** Only so that a wedged CLI fails the test instead of blocking the run; not a timing assertion. */
const CLI_TIMEOUT_MS = 120_000

/** A hermetic environment: dummy credentials, no config or credential files, no pager, no IMDS. */
export function cliEnvironment(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'y',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  }
}

export type AwsCli = { path: string; version: string } | { problem: string }

/** The first `aws` on PATH that is version 2 (a pyenv or pip `aws` v1 may come earlier), or why there is none. */
export function locateAwsCliV2(env: NodeJS.ProcessEnv): AwsCli {
  const found: string[] = []
  for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '')) {
    const candidate = join(dir, 'aws')
    try {
      accessSync(candidate, constants.X_OK)
    } catch {
      // Not in this PATH entry: look in the next one.
      continue
    }
    let version: string
    try {
      version = execFileSync(candidate, ['--version'], { env, encoding: 'utf8', stdio: 'pipe' }).trim()
    } catch (error) {
      found.push(`${candidate} (does not run: ${(error as Error).message.split('\n')[0] ?? ''})`)
      continue
    }
    if (/^aws-cli\/2\./.test(version)) return { path: candidate, version }
    found.push(`${candidate} (${version})`)
  }
  if (found.length === 0) return { problem: `the AWS CLI (\`aws\`) is not on PATH: ${INSTALL_HINT}` }
  return { problem: `no AWS CLI v2 on PATH, only ${found.join(', ')}: ${INSTALL_HINT}` }
}

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly command: string
}

/** Runs `aws <args> --output json`; resolves with the exit code whatever it is. */
export function runAws(cli: AwsCli, home: string, args: readonly string[]): Promise<CliRun> {
  if ('problem' in cli) return Promise.reject(new Error(cli.problem))
  const command = `aws ${args.join(' ')}`
  return new Promise((resolve, reject) => {
    execFile(
      cli.path,
      [...args, '--output', 'json'],
      { env: cliEnvironment(home), timeout: CLI_TIMEOUT_MS, encoding: 'utf8' },
      (error: ExecFileException | null, stdout: string, stderr: string) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`${command} did not finish (${error.message}); stderr: ${stderr}`))
          return
        }
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr, command })
      },
    )
  })
}

/** Asserts exit code 0 and returns the parsed JSON output (`{}` for an empty output). */
export function ok(run: CliRun): Record<string, unknown> {
  assert.equal(run.code, 0, `${run.command} exited ${run.code}: ${run.stderr}`)
  return run.stdout.trim() === '' ? {} : (JSON.parse(run.stdout) as Record<string, unknown>)
}

/** Asserts the CLI's "the service returned an error" exit code (254) and the error name on stderr. */
export function failsWith(run: CliRun, errorName: string): void {
  assert.equal(run.code, 254, `${run.command} exited ${run.code}, expected 254; stderr: ${run.stderr}`)
  assert.match(run.stderr, new RegExp(`\\(${errorName}\\)`), `${run.command} stderr: ${run.stderr}`)
  assert.equal(run.stdout.trim(), '', `${run.command} printed ${run.stdout}`)
}
