/**
 * The unmodified AWS CLI v2 against the running server: registry, job, device updates through the
 * data plane, and DeleteJobExecution with and without `--force`. The CLI runs botocore, so this
 * also checks that botocore parses what the server sends (epoch-second timestamps, error names).
 * The CLI is the Debian package `awscli` (v2); `.ci/run` installs it when missing.
 */
import { DescribeJobCommand } from '@aws-sdk/client-iot'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { AwsCli } from '../support/aws-cli.js'
import { cliEnvironment, failsWith, locateAwsCliV2, ok, runAws } from '../support/aws-cli.js'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'

describe('AWS CLI v2 against fleetjobs [spec: README#scope] [spec: delete-job-execution] [spec: wire-protocol#4] [spec: wire-protocol#5.2]', () => {
  let h: Harness
  let home: string
  let cli: AwsCli

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'fleetjobs-aws-cli-'))
    cli = locateAwsCliV2(cliEnvironment(home))
    h = await startHarness()
  })
  after(async () => {
    await h.close()
    rmSync(home, { recursive: true, force: true })
  })

  const aws = (args: readonly string[]) => runAws(cli, home, args)
  const controlPlane = (...args: string[]) => aws(['iot', ...args, '--endpoint-url', h.server.url])
  const dataPlane = (...args: string[]) =>
    aws(['iot-jobs-data', ...args, '--endpoint-url', h.server.dataPlaneUrl])

  it('finds the AWS CLI v2 on PATH', () => {
    if ('problem' in cli) assert.fail(cli.problem)
    assert.match(cli.version, /^aws-cli\/2\./)
  })

  it('creates things and a job, updates executions through the data plane, and deletes executions with and without --force', async () => {
    const finished = unique('cli-done')
    const running = unique('cli-run')
    const jobId = unique('cli-job')

    // create-thing
    for (const thingName of [finished, running]) {
      const created = ok(await controlPlane('create-thing', '--thing-name', thingName))
      assert.equal(created['thingName'], thingName)
      assert.equal(created['thingArn'], thingArnOf(thingName))
      assert.equal(typeof created['thingId'], 'string')
    }

    // create-job
    const job = ok(
      await controlPlane(
        'create-job',
        '--job-id',
        jobId,
        '--targets',
        thingArnOf(finished),
        thingArnOf(running),
        '--document',
        '{"operation":"cli-test","step":1}',
        '--description',
        'created by the AWS CLI',
      ),
    )
    assert.equal(job['jobId'], jobId)
    assert.equal(job['jobArn'], `arn:aws:iot:us-east-1:123456789012:job/${jobId}`)
    assert.equal(job['description'], 'created by the AWS CLI')

    // describe-job: botocore turns the epoch-second numbers into datetimes, printed as ISO-8601.
    // [spec: wire-protocol#4]
    const described = ok(await controlPlane('describe-job', '--job-id', jobId))['job'] as Record<
      string,
      unknown
    >
    assert.equal(described['jobId'], jobId)
    assert.equal(described['status'], 'IN_PROGRESS')
    assert.deepEqual(described['targets'], [thingArnOf(finished), thingArnOf(running)])
    const details = described['jobProcessDetails'] as Record<string, unknown>
    assert.equal(details['numberOfQueuedThings'], 2)
    const createdAt = described['createdAt']
    assert.ok(
      typeof createdAt === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$/.test(createdAt),
      `createdAt as botocore printed it: ${String(createdAt)}`,
    )
    const sdk = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(
      new Date(createdAt).getTime(),
      sdk.job?.createdAt?.getTime(),
      'CLI and JS SDK read the same instant',
    )
    assert.equal(typeof described['lastUpdatedAt'], 'string')

    // Data plane: one execution goes IN_PROGRESS then SUCCEEDED …
    const started = ok(
      await dataPlane(
        'update-job-execution',
        '--thing-name',
        finished,
        '--job-id',
        jobId,
        '--status',
        'IN_PROGRESS',
        '--status-details',
        'progress=half',
        '--expected-version',
        '1',
        '--include-job-execution-state',
      ),
    )
    assert.deepEqual(started['executionState'], {
      status: 'IN_PROGRESS',
      statusDetails: { progress: 'half' },
      versionNumber: 2,
    })
    const succeeded = ok(
      await dataPlane(
        'update-job-execution',
        '--thing-name',
        finished,
        '--job-id',
        jobId,
        '--status',
        'SUCCEEDED',
        '--expected-version',
        '2',
        '--include-job-execution-state',
        '--include-job-document',
      ),
    )
    assert.equal((succeeded['executionState'] as Record<string, unknown>)['status'], 'SUCCEEDED')
    assert.equal((succeeded['executionState'] as Record<string, unknown>)['versionNumber'], 3)
    assert.equal(succeeded['jobDocument'], '{"operation":"cli-test","step":1}')

    // … and the other thing's execution is started and left IN_PROGRESS.
    const next = ok(await dataPlane('start-next-pending-job-execution', '--thing-name', running))
    const execution = next['execution'] as Record<string, unknown>
    assert.equal(execution['jobId'], jobId)
    assert.equal(execution['thingName'], running)
    assert.equal(execution['status'], 'IN_PROGRESS')
    assert.equal(execution['executionNumber'], 1)
    assert.equal(execution['jobDocument'], '{"operation":"cli-test","step":1}')
    for (const member of ['queuedAt', 'startedAt', 'lastUpdatedAt']) {
      assert.ok(
        Number.isInteger(execution[member]),
        `${member} is integer epoch seconds: ${String(execution[member])}`,
      )
    }
    const pending = ok(await dataPlane('get-pending-job-executions', '--thing-name', running))
    assert.equal((pending['inProgressJobs'] as unknown[]).length, 1)

    // delete-job-execution without --force on IN_PROGRESS is refused, and the execution stays.
    // [spec: delete-job-execution]
    const args = (thingName: string) => [
      '--thing-name',
      thingName,
      '--job-id',
      jobId,
      '--execution-number',
      '1',
    ]
    failsWith(await controlPlane('delete-job-execution', ...args(running)), 'InvalidStateTransitionException')
    const still = ok(await controlPlane('describe-job-execution', '--thing-name', running, '--job-id', jobId))
    assert.equal((still['execution'] as Record<string, unknown>)['status'], 'IN_PROGRESS')

    // with --force it goes; a terminal one goes without --force.
    assert.deepEqual(ok(await controlPlane('delete-job-execution', ...args(running), '--force')), {})
    assert.deepEqual(ok(await controlPlane('delete-job-execution', ...args(finished))), {})

    // Both are gone.
    for (const thingName of [running, finished]) {
      failsWith(
        await controlPlane('describe-job-execution', '--thing-name', thingName, '--job-id', jobId),
        'ResourceNotFoundException',
      )
    }
    failsWith(
      await controlPlane(
        'describe-job-execution',
        '--thing-name',
        running,
        '--job-id',
        jobId,
        '--execution-number',
        '1',
      ),
      'ResourceNotFoundException',
    )
    const listed = ok(await controlPlane('list-job-executions-for-job', '--job-id', jobId))
    assert.deepEqual(listed['executionSummaries'], [])
  })
})
