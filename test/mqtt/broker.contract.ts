/**
 * The MQTT device API as a device sees it, run against each broker mode (embedded aedes, external
 * Mosquitto): every request topic of §2.1 with its accepted and rejected replies, the request members
 * of §2.2, the reply shapes of §2.3, the rejection codes of §2.4 that a device can provoke, the
 * namespaced topics of §3, one notification smoke (§4), and that MQTT and the HTTP data plane see the
 * same executions. Every test uses fresh things, so runs that share a broker do not collide.
 * [spec: jobs-device-api#2] [spec: jobs-device-api#3]
 */
import { CancelJobExecutionCommand, CreateThingCommand, DeleteJobCommand } from '@aws-sdk/client-iot'
import {
  DescribeJobExecutionCommand,
  GetPendingJobExecutionsCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import type { IClientOptions } from 'mqtt'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { MqttConfig } from '../../src/server.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import {
  DOCUMENT,
  ManualClock,
  createJob,
  createThing,
  detailsOf,
  deviceView,
  report,
  twoExecutions,
} from '../support/device.js'
import { holdJobDeletion } from '../support/lifecycle.js'
import type { DeviceClient } from '../support/mqtt.js'
import { connectDevice, jobsTopics, mqttUrlOf, settle } from '../support/mqtt.js'

export interface BrokerContractOptions {
  /** The harness's MQTT configuration (embedded broker, or `url` of an external one). */
  readonly mqtt: MqttConfig
  /** Where devices connect; undefined: the embedded broker of the harness (TCP). */
  readonly deviceUrl?: string | ((h: Harness) => string)
  /** The devices' mqtt.js options; `{ protocolVersion: 5 }` runs the contract over MQTT 5. */
  readonly deviceOptions?: IClientOptions
}

const DOC = JSON.parse(DOCUMENT) as unknown
const keys = (o: object): string[] => Object.keys(o).sort()

/** The MQTT execution object of §2.3 for an execution the test knows. */
function mqttExecution(e: {
  jobId: string
  thingName: string
  status: string
  statusDetails?: Record<string, string>
  queuedAt: number
  startedAt?: number
  lastUpdatedAt: number
  versionNumber: number
  executionNumber?: number
  withDocument?: boolean
}): Record<string, unknown> {
  return {
    jobId: e.jobId,
    thingName: e.thingName,
    ...(e.withDocument === false ? {} : { jobDocument: DOC }),
    status: e.status,
    statusDetails: e.statusDetails ?? {},
    queuedAt: e.queuedAt,
    ...(e.startedAt === undefined ? {} : { startedAt: e.startedAt }),
    lastUpdatedAt: e.lastUpdatedAt,
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber ?? 1,
  }
}

export function describeBrokerContract(name: string, options: BrokerContractOptions): void {
  const mqtt5 = options.deviceOptions?.protocolVersion === 5
  /** A device client of the contract's kind, on the harness's broker. */
  const connect = (h: Harness): Promise<DeviceClient> =>
    connectDevice(
      typeof options.deviceUrl === 'function' ? options.deviceUrl(h) : mqttUrlOf(h, options.deviceUrl),
      options.deviceOptions,
    )

  describe(`MQTT device API on ${name} [spec: jobs-device-api#2]`, () => {
    let h: Harness
    let d: DeviceClient
    const clock = new ManualClock()
    before(async () => {
      h = await startHarness({ clock, mqtt: options.mqtt })
      d = await connect(h)
    })
    after(async () => {
      await d?.close()
      await h?.close()
    })

    /** A fresh thing with `n` QUEUED executions of fresh jobs, created one second apart. */
    async function thingWithJobs(
      n: number,
      extra: Parameters<typeof createJob>[2] = {},
    ): Promise<{ thingName: string; jobIds: string[]; t: ReturnType<typeof jobsTopics> }> {
      const thingName = await createThing(h)
      const jobIds: string[] = []
      for (let i = 0; i < n; i += 1) {
        jobIds.push(await createJob(h, [thingName], extra))
        clock.advance(1000)
      }
      return { thingName, jobIds, t: jobsTopics(thingName) }
    }

    /** Status and version as the HTTP data plane reports them. */
    async function httpState(jobId: string, thingName: string, executionNumber?: number) {
      const e = await deviceView(h, jobId, thingName, executionNumber)
      return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber }
    }

    describe('GetPendingJobExecutions: …/jobs/get [spec: jobs-device-api#2.1] [spec: jobs-device-api#2.3]', () => {
      it('accepted: IN_PROGRESS then QUEUED summaries in pending order, integer seconds, timestamp, clientToken', async () => {
        const queuedAt = clock.seconds()
        const { thingName, jobIds, t } = await thingWithJobs(3)
        const [j1, j2, j3] = jobIds as [string, string, string]
        clock.advance(1500)
        const startedAt = clock.seconds()
        await report(h, j2, thingName, 'IN_PROGRESS')
        clock.advance(1000)
        const out = await d.request(t.get, { clientToken: 'token-get-1' })
        assert.equal(out.outcome, 'accepted')
        assert.equal(out.topic, `${t.get}/accepted`)
        assert.deepEqual(out.payload, {
          inProgressJobs: [
            {
              jobId: j2,
              queuedAt: queuedAt + 1,
              startedAt,
              lastUpdatedAt: startedAt,
              versionNumber: 2,
              executionNumber: 1,
            },
          ],
          queuedJobs: [
            { jobId: j1, queuedAt, lastUpdatedAt: queuedAt, versionNumber: 1, executionNumber: 1 },
            {
              jobId: j3,
              queuedAt: queuedAt + 2,
              lastUpdatedAt: queuedAt + 2,
              versionNumber: 1,
              executionNumber: 1,
            },
          ],
          timestamp: clock.seconds(),
          clientToken: 'token-get-1',
        })
        // The HTTP data plane lists the same executions. [spec: jobs-device-api#1.2]
        const http = await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
        assert.deepEqual(
          http.inProgressJobs?.map((s) => [s.jobId, s.versionNumber, s.startedAt]),
          [[j2, 2, startedAt]],
        )
        assert.deepEqual(
          http.queuedJobs?.map((s) => s.jobId),
          [j1, j3],
        )
      })

      it('a thing with nothing pending gets both lists, empty', async () => {
        const { t } = await thingWithJobs(0)
        const out = await d.accepted(t.get)
        assert.deepEqual(out['inProgressJobs'], [])
        assert.deepEqual(out['queuedJobs'], [])
      })

      it('[spec: jobs-device-api#2.2] an empty payload counts as {}; without clientToken the reply has none', async () => {
        const { t } = await thingWithJobs(1)
        const out = await d.request(t.get, Buffer.alloc(0), { clientToken: null })
        assert.equal(out.outcome, 'accepted')
        assert.deepEqual(keys(out.payload), ['inProgressJobs', 'queuedJobs', 'timestamp'])
      })

      it('[spec: jobs-device-api#2.2] ignores unknown keys', async () => {
        const { t, jobIds } = await thingWithJobs(1)
        const out = await d.accepted(t.get, { somethingElse: { nested: true }, thingName: 'other' })
        assert.deepEqual(
          (out['queuedJobs'] as { jobId: string }[]).map((s) => s.jobId),
          jobIds,
        )
      })

      it('[open-question 35] rejected with ResourceNotFound for a thing that is not registered, token echoed', async () => {
        const t = jobsTopics(unique('missing'))
        const out = await d.request(t.get, { clientToken: 'token-missing' })
        assert.equal(out.outcome, 'rejected')
        assert.equal(out.topic, `${t.get}/rejected`)
        assert.deepEqual(keys(out.payload), ['clientToken', 'code', 'message', 'timestamp'])
        assert.equal(out.payload['code'], 'ResourceNotFound')
        assert.equal(out.payload['clientToken'], 'token-missing')
        assert.equal(out.payload['timestamp'], clock.seconds())
        assert.equal(typeof out.payload['message'], 'string')
      })

      it('[open-question 5] replies with the QoS of the request, not retained [spec: jobs-device-api#2.1]', async () => {
        const { t } = await thingWithJobs(1)
        const replies = await d.collect(`${t.get}/accepted`)
        await d.request(t.get, {}, { qos: 0, clientToken: 'qos-0' })
        await d.request(t.get, {}, { qos: 1, clientToken: 'qos-1' })
        const byToken = (token: string) => replies.messages.find((m) => m.json['clientToken'] === token)
        assert.equal(byToken('qos-0')?.qos, 0)
        assert.equal(byToken('qos-1')?.qos, 1)
        assert.ok(replies.messages.every((m) => !m.retain))
      })
    })

    describe('StartNextPendingJobExecution: …/jobs/start-next [spec: jobs-device-api#1.3] [spec: jobs-device-api#2.3]', () => {
      it('starts the first QUEUED execution: jobDocument object, statusDetails, versionNumber 2, timer; HTTP agrees', async () => {
        const queuedAt = clock.seconds()
        const { thingName, jobIds, t } = await thingWithJobs(2)
        clock.advance(3000)
        const out = await d.accepted(t.startNext, {
          statusDetails: { step: 'download' },
          stepTimeoutInMinutes: 5,
          clientToken: 'start-1',
        })
        const now = clock.seconds()
        assert.deepEqual(out, {
          execution: {
            ...mqttExecution({
              jobId: jobIds[0]!,
              thingName,
              status: 'IN_PROGRESS',
              statusDetails: { step: 'download' },
              queuedAt,
              startedAt: now,
              lastUpdatedAt: now,
              versionNumber: 2,
            }),
            approximateSecondsBeforeTimedOut: 300,
          },
          timestamp: now,
          clientToken: 'start-1',
        })
        const http = await deviceView(h, jobIds[0]!, thingName)
        assert.equal(http.status, 'IN_PROGRESS')
        assert.equal(http.versionNumber, 2)
        assert.equal(http.startedAt, now)
        assert.deepEqual(http.statusDetails, { step: 'download' })
        assert.equal(typeof http.jobDocument, 'string')
        assert.deepEqual(
          JSON.parse(http.jobDocument!),
          (out['execution'] as Record<string, unknown>)['jobDocument'],
        )
      })

      it('answers without execution when nothing is pending', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await report(h, jobIds[0]!, thingName, 'SUCCEEDED')
        const out = await d.accepted(t.startNext, { clientToken: 'none' })
        assert.deepEqual(out, { timestamp: clock.seconds(), clientToken: 'none' })
      })

      it('[open-question 39] returns an IN_PROGRESS pick unchanged, ignoring statusDetails and stepTimeoutInMinutes', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await report(h, jobIds[0]!, thingName, 'IN_PROGRESS', { statusDetails: { s: '1' } })
        const out = await d.accepted(t.startNext, { statusDetails: { s: '2' }, stepTimeoutInMinutes: 5 })
        const e = out['execution'] as Record<string, unknown>
        assert.equal(e['versionNumber'], 2)
        assert.deepEqual(e['statusDetails'], { s: '1' })
        assert.equal(e['approximateSecondsBeforeTimedOut'], undefined)
        assert.deepEqual(await httpState(jobIds[0]!, thingName), {
          status: 'IN_PROGRESS',
          statusDetails: { s: '1' },
          versionNumber: 2,
        })
      })

      it('[spec: jobs-device-api#2.2] accepts stepTimeoutInMinutes as a decimal string', async () => {
        const { t } = await thingWithJobs(1)
        const out = await d.accepted(t.startNext, { stepTimeoutInMinutes: '7' })
        assert.equal((out['execution'] as Record<string, unknown>)['approximateSecondsBeforeTimedOut'], 420)
      })

      const badStartNext: [string, Record<string, unknown>][] = [
        ['stepTimeoutInMinutes 0', { stepTimeoutInMinutes: 0 }],
        ['stepTimeoutInMinutes -1 (only UpdateJobExecution takes it)', { stepTimeoutInMinutes: -1 }],
        ['stepTimeoutInMinutes 10081', { stepTimeoutInMinutes: 10081 }],
        ['stepTimeoutInMinutes 1.5', { stepTimeoutInMinutes: 1.5 }],
        ['stepTimeoutInMinutes "abc"', { stepTimeoutInMinutes: 'abc' }],
        ['statusDetails with 11 pairs [open-question 37]', { statusDetails: detailsOf(11) }],
        ['a statusDetails value that is a number', { statusDetails: { k: 1 } }],
        ['a statusDetails key with a space', { statusDetails: { 'a b': 'v' } }],
        ['statusDetails that is a list', { statusDetails: ['a'] }],
      ]
      for (const [what, payload] of badStartNext) {
        it(`rejects ${what} with InvalidRequest and starts nothing [spec: jobs-device-api#1.1]`, async () => {
          const { thingName, jobIds, t } = await thingWithJobs(1)
          const out = await d.rejected(t.startNext, { ...payload, clientToken: 'bad' })
          assert.equal(out['code'], 'InvalidRequest')
          assert.equal(out['clientToken'], 'bad')
          assert.equal(out['executionState'], undefined)
          assert.deepEqual(await httpState(jobIds[0]!, thingName), {
            status: 'QUEUED',
            statusDetails: {},
            versionNumber: 1,
          })
        })
      }

      it('[open-question 35] rejects a thing that is not registered with ResourceNotFound', async () => {
        const out = await d.rejected(jobsTopics(unique('missing')).startNext)
        assert.equal(out['code'], 'ResourceNotFound')
      })
    })

    describe('DescribeJobExecution: …/jobs/{jobId}/get [spec: jobs-device-api#1.4] [spec: jobs-device-api#2.3]', () => {
      it('returns the latest execution with jobDocument as a JSON object by default', async () => {
        const queuedAt = clock.seconds()
        const { thingName, jobIds, t } = await thingWithJobs(1)
        const jobId = jobIds[0]!
        const out = await d.request(t.describe(jobId), { clientToken: 'd-1' })
        assert.equal(out.topic, `${t.describe(jobId)}/accepted`)
        assert.deepEqual(out.payload, {
          execution: mqttExecution({
            jobId,
            thingName,
            status: 'QUEUED',
            queuedAt,
            lastUpdatedAt: queuedAt,
            versionNumber: 1,
          }),
          timestamp: clock.seconds(),
          clientToken: 'd-1',
        })
      })

      it('[spec: jobs-device-api#2.2] includeJobDocument: true includes the document, false leaves it out', async () => {
        const { jobIds, t } = await thingWithJobs(1)
        const topic = t.describe(jobIds[0]!)
        const withDoc = (await d.accepted(topic, { includeJobDocument: true }))['execution'] as Record<
          string,
          unknown
        >
        assert.deepEqual(withDoc['jobDocument'], DOC)
        const without = (await d.accepted(topic, { includeJobDocument: false }))['execution'] as Record<
          string,
          unknown
        >
        assert.ok(!('jobDocument' in without))
        assert.equal(without['jobId'], jobIds[0])
      })

      it('[spec: state-machines#3.2] executionNumber (number or decimal string) picks that execution; without it the latest', async () => {
        const { jobId, thingName } = await twoExecutions(h)
        const t = jobsTopics(thingName)
        const latest = (await d.accepted(t.describe(jobId)))['execution'] as Record<string, unknown>
        assert.equal(latest['executionNumber'], 2)
        assert.equal(latest['status'], 'QUEUED')
        for (const executionNumber of [1, '1']) {
          const first = (await d.accepted(t.describe(jobId), { executionNumber }))['execution'] as Record<
            string,
            unknown
          >
          assert.equal(first['executionNumber'], 1)
          assert.equal(first['status'], 'SUCCEEDED')
          assert.deepEqual(first['statusDetails'], { attempt: 'first' })
        }
      })

      it('[open-question 42] returns a terminal execution with its status by default', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await report(h, jobIds[0]!, thingName, 'FAILED')
        const e = (await d.accepted(t.describe(jobIds[0]!)))['execution'] as Record<string, unknown>
        assert.equal(e['status'], 'FAILED')
      })

      it('$next: the first pending execution, unchanged; the reply topic keeps the literal $next', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(2)
        await report(h, jobIds[1]!, thingName, 'IN_PROGRESS')
        const out = await d.request(t.describe('$next'))
        assert.equal(out.topic, `$aws/things/${thingName}/jobs/$next/get/accepted`)
        const e = out.payload['execution'] as Record<string, unknown>
        assert.equal(e['jobId'], jobIds[1])
        assert.equal(e['status'], 'IN_PROGRESS')
        assert.equal(e['versionNumber'], 2)
        assert.deepEqual(e['jobDocument'], DOC)
        assert.equal((await httpState(jobIds[1]!, thingName)).versionNumber, 2)
        assert.equal((await httpState(jobIds[0]!, thingName)).versionNumber, 1)
      })

      it('$next with nothing pending answers without execution; [open-question 41] executionNumber is ignored', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        const withNumber = (await d.accepted(t.describe('$next'), { executionNumber: 7 }))[
          'execution'
        ] as Record<string, unknown>
        assert.equal(withNumber['jobId'], jobIds[0])
        await report(h, jobIds[0]!, thingName, 'SUCCEEDED')
        const out = await d.accepted(t.describe('$next'), { clientToken: 'n' })
        assert.deepEqual(out, { timestamp: clock.seconds(), clientToken: 'n' })
      })

      it('rejects with ResourceNotFound an unknown job, a job not on the thing, an unknown executionNumber', async () => {
        const { t, jobIds } = await thingWithJobs(1)
        const other = await thingWithJobs(1)
        for (const [topic, payload] of [
          [t.describe(unique('nojob')), {}],
          [t.describe(other.jobIds[0]!), {}],
          [t.describe(jobIds[0]!), { executionNumber: 9 }],
        ] as const) {
          const out = await d.rejected(topic, { ...payload, clientToken: 'nf' })
          assert.equal(out['code'], 'ResourceNotFound', topic)
          assert.equal(out['clientToken'], 'nf')
        }
        assert.equal(
          (await d.rejected(jobsTopics(unique('missing')).describe('$next')))['code'],
          'ResourceNotFound',
        )
      })

      for (const [what, payload] of [
        ['includeJobDocument "yes"', { includeJobDocument: 'yes' }],
        ['executionNumber "abc"', { executionNumber: 'abc' }],
        ['executionNumber 1.5', { executionNumber: 1.5 }],
      ] as const) {
        it(`rejects ${what} with InvalidRequest`, async () => {
          const { jobIds, t } = await thingWithJobs(1)
          const out = await d.rejected(t.describe(jobIds[0]!), payload)
          assert.equal(out['code'], 'InvalidRequest')
        })
      }

      it('sees what the HTTP data plane wrote', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        clock.advance(2000)
        await h.data.send(
          new UpdateJobExecutionCommand({
            thingName,
            jobId: jobIds[0]!,
            status: 'IN_PROGRESS',
            statusDetails: { via: 'http' },
          }),
        )
        const e = (await d.accepted(t.describe(jobIds[0]!)))['execution'] as Record<string, unknown>
        assert.equal(e['status'], 'IN_PROGRESS')
        assert.deepEqual(e['statusDetails'], { via: 'http' })
        assert.equal(e['versionNumber'], 2)
        assert.equal(e['startedAt'], clock.seconds())
      })
    })

    describe('UpdateJobExecution: …/jobs/{jobId}/update [spec: jobs-device-api#1.5] [spec: jobs-device-api#2.3]', () => {
      it('accepted carries only timestamp and clientToken by default; HTTP sees the update', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        clock.advance(1000)
        const out = await d.accepted(t.update(jobIds[0]!), {
          status: 'IN_PROGRESS',
          statusDetails: { p: '10' },
          clientToken: 'u-1',
        })
        assert.deepEqual(out, { timestamp: clock.seconds(), clientToken: 'u-1' })
        const http = await deviceView(h, jobIds[0]!, thingName)
        assert.equal(http.status, 'IN_PROGRESS')
        assert.equal(http.versionNumber, 2)
        assert.equal(http.startedAt, clock.seconds())
        assert.equal(http.lastUpdatedAt, clock.seconds())
        assert.deepEqual(http.statusDetails, { p: '10' })
      })

      it('[spec: jobs-device-api#2.2] includeJobExecutionState and includeJobDocument (an object, not a string)', async () => {
        const { jobIds, t } = await thingWithJobs(1)
        const out = await d.accepted(t.update(jobIds[0]!), {
          status: 'SUCCEEDED',
          statusDetails: { done: 'yes' },
          includeJobExecutionState: true,
          includeJobDocument: true,
          clientToken: 'u-2',
        })
        assert.deepEqual(out, {
          executionState: { status: 'SUCCEEDED', statusDetails: { done: 'yes' }, versionNumber: 2 },
          jobDocument: DOC,
          timestamp: clock.seconds(),
          clientToken: 'u-2',
        })
      })

      it('[open-question 40] statusDetails are replaced when given and kept when absent', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await d.accepted(t.update(jobIds[0]!), { status: 'IN_PROGRESS', statusDetails: { a: '1', b: '2' } })
        await d.accepted(t.update(jobIds[0]!), { status: 'IN_PROGRESS', statusDetails: { c: '3' } })
        const kept = await d.accepted(t.update(jobIds[0]!), {
          status: 'IN_PROGRESS',
          includeJobExecutionState: true,
        })
        assert.deepEqual(kept['executionState'], {
          status: 'IN_PROGRESS',
          statusDetails: { c: '3' },
          versionNumber: 4,
        })
        assert.deepEqual(await httpState(jobIds[0]!, thingName), kept['executionState'])
      })

      it('[spec: jobs-device-api#2.2] expectedVersion as a number or a decimal string is checked and accepted', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await d.accepted(t.update(jobIds[0]!), { status: 'IN_PROGRESS', expectedVersion: 1 })
        // The embedded C jobs library writes "expectedVersion":"2".
        await d.accepted(t.update(jobIds[0]!), { status: 'SUCCEEDED', expectedVersion: '2' })
        assert.equal((await httpState(jobIds[0]!, thingName)).versionNumber, 3)
      })

      it('rejects a stale expectedVersion with VersionMismatch and the current executionState; nothing changes', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await report(h, jobIds[0]!, thingName, 'IN_PROGRESS', { statusDetails: { s: 'x' } })
        for (const expectedVersion of [1, '1', 3]) {
          const out = await d.rejected(t.update(jobIds[0]!), {
            status: 'SUCCEEDED',
            expectedVersion,
            clientToken: 'vm',
          })
          assert.deepEqual(keys(out), ['clientToken', 'code', 'executionState', 'message', 'timestamp'])
          assert.equal(out['code'], 'VersionMismatch')
          assert.deepEqual(out['executionState'], {
            status: 'IN_PROGRESS',
            statusDetails: { s: 'x' },
            versionNumber: 2,
          })
        }
        assert.deepEqual(await httpState(jobIds[0]!, thingName), {
          status: 'IN_PROGRESS',
          statusDetails: { s: 'x' },
          versionNumber: 2,
        })
      })

      it('rejects any update of a terminal execution with InvalidStateTransition and its executionState', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await report(h, jobIds[0]!, thingName, 'SUCCEEDED', { statusDetails: { r: 'ok' } })
        for (const status of ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED']) {
          const out = await d.rejected(t.update(jobIds[0]!), { status, clientToken: 'ist' })
          assert.equal(out['code'], 'InvalidStateTransition', status)
          assert.equal(out['clientToken'], 'ist')
          assert.deepEqual(out['executionState'], {
            status: 'SUCCEEDED',
            statusDetails: { r: 'ok' },
            versionNumber: 2,
          })
        }
      })

      it('[spec: jobs-device-api#1.5] checks expectedVersion before the transition: VersionMismatch on a terminal execution', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await report(h, jobIds[0]!, thingName, 'REJECTED')
        const out = await d.rejected(t.update(jobIds[0]!), { status: 'SUCCEEDED', expectedVersion: 1 })
        assert.equal(out['code'], 'VersionMismatch')
      })

      it('[spec: delete-job-execution#4] executionNumber addresses an older execution; its state comes with the rejection', async () => {
        const { jobId, thingName } = await twoExecutions(h)
        const t = jobsTopics(thingName)
        const out = await d.rejected(t.update(jobId), { status: 'IN_PROGRESS', executionNumber: '1' })
        assert.equal(out['code'], 'InvalidStateTransition')
        assert.deepEqual(out['executionState'], {
          status: 'SUCCEEDED',
          statusDetails: { attempt: 'first' },
          versionNumber: 2,
        })
        const stale = await d.rejected(t.update(jobId), {
          status: 'IN_PROGRESS',
          executionNumber: 1,
          expectedVersion: 1,
        })
        assert.equal(stale['code'], 'VersionMismatch')
        assert.deepEqual(stale['executionState'], out['executionState'])
        await d.accepted(t.update(jobId), { status: 'IN_PROGRESS', executionNumber: 2 })
        assert.equal((await httpState(jobId, thingName, 2)).status, 'IN_PROGRESS')
      })

      it('[spec: jobs-device-api#1.1] stepTimeoutInMinutes -1 cancels the step timer; 1..10080 set it', async () => {
        const { jobIds, t } = await thingWithJobs(1)
        const topic = t.update(jobIds[0]!)
        await d.accepted(topic, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 10080 })
        const set = (await d.accepted(t.describe(jobIds[0]!)))['execution'] as Record<string, unknown>
        assert.equal(set['approximateSecondsBeforeTimedOut'], 10080 * 60)
        await d.accepted(topic, { status: 'IN_PROGRESS', stepTimeoutInMinutes: '-1' })
        const cleared = (await d.accepted(t.describe(jobIds[0]!)))['execution'] as Record<string, unknown>
        assert.equal(cleared['approximateSecondsBeforeTimedOut'], undefined)
      })

      const badUpdates: [string, Record<string, unknown>][] = [
        ['no status', {}],
        ['status "DONE"', { status: 'DONE' }],
        ...(['QUEUED', 'CANCELED', 'TIMED_OUT', 'REMOVED'].map((status) => [
          `status ${status}, which only the service sets [open-question 43]`,
          { status },
        ]) as [string, Record<string, unknown>][]),
        ['stepTimeoutInMinutes 0', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 0 }],
        ['stepTimeoutInMinutes -2', { status: 'IN_PROGRESS', stepTimeoutInMinutes: -2 }],
        ['stepTimeoutInMinutes 10081', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 10081 }],
        ['expectedVersion "x"', { status: 'IN_PROGRESS', expectedVersion: 'x' }],
        ['executionNumber "one"', { status: 'IN_PROGRESS', executionNumber: 'one' }],
        [
          'statusDetails with 11 pairs [open-question 37]',
          { status: 'IN_PROGRESS', statusDetails: detailsOf(11) },
        ],
        [
          'a statusDetails value with a control character',
          { status: 'IN_PROGRESS', statusDetails: { k: 'a\nb' } },
        ],
        ['includeJobExecutionState "true"', { status: 'IN_PROGRESS', includeJobExecutionState: 'true' }],
      ]
      for (const [what, payload] of badUpdates) {
        it(`rejects ${what} with InvalidRequest; nothing changes`, async () => {
          const { thingName, jobIds, t } = await thingWithJobs(1)
          const out = await d.rejected(t.update(jobIds[0]!), { ...payload, clientToken: 'ir' })
          assert.equal(out['code'], 'InvalidRequest')
          assert.equal(out['clientToken'], 'ir')
          assert.equal(out['executionState'], undefined)
          assert.deepEqual(await httpState(jobIds[0]!, thingName), {
            status: 'QUEUED',
            statusDetails: {},
            versionNumber: 1,
          })
        })
      }

      it('rejects with ResourceNotFound an unknown job, an unknown executionNumber, an unregistered thing', async () => {
        const { jobIds, t } = await thingWithJobs(1)
        for (const [topic, payload] of [
          [t.update(unique('nojob')), {}],
          [t.update(jobIds[0]!), { executionNumber: 5 }],
          [jobsTopics(unique('missing')).update(jobIds[0]!), {}],
        ] as const) {
          const out = await d.rejected(topic, { status: 'IN_PROGRESS', ...payload })
          assert.equal(out['code'], 'ResourceNotFound', topic)
          assert.equal(out['executionState'], undefined)
        }
      })

      it('a canceled execution answers InvalidStateTransition with status CANCELED', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        await h.iot.send(new CancelJobExecutionCommand({ jobId: jobIds[0]!, thingName }))
        const out = await d.rejected(t.update(jobIds[0]!), { status: 'SUCCEEDED' })
        assert.equal(out['code'], 'InvalidStateTransition')
        assert.equal((out['executionState'] as Record<string, unknown>)['status'], 'CANCELED')
      })

      it('[spec: jobs-control-plane#deletejob] a job being deleted is gone for the device: ResourceNotFound, not in $next', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        const hold = holdJobDeletion(h)
        try {
          await h.iot.send(new DeleteJobCommand({ jobId: jobIds[0]!, force: true }))
          assert.equal((await d.rejected(t.describe(jobIds[0]!)))['code'], 'ResourceNotFound')
          assert.equal(
            (await d.rejected(t.update(jobIds[0]!), { status: 'SUCCEEDED' }))['code'],
            'ResourceNotFound',
          )
          assert.equal((await d.accepted(t.describe('$next')))['execution'], undefined)
          assert.equal((await d.accepted(t.startNext))['execution'], undefined)
        } finally {
          await hold.release()
        }
        assert.deepEqual((await d.accepted(jobsTopics(thingName).get))['queuedJobs'], [])
      })
    })

    it('[spec: limits#1] serves a thing whose name has a colon (thingName pattern [a-zA-Z0-9:_-]+)', async () => {
      const thingName = `${unique('thing')}:a_b-c`
      await h.iot.send(new CreateThingCommand({ thingName }))
      const jobId = await createJob(h, [thingName])
      const t = jobsTopics(thingName)
      const out = await d.request(t.update(jobId), { status: 'IN_PROGRESS', includeJobExecutionState: true })
      assert.equal(out.topic, `$aws/things/${thingName}/jobs/${jobId}/update/accepted`)
      assert.equal((out.payload['executionState'] as Record<string, unknown>)['versionNumber'], 2)
    })

    describe('InvalidJson and InvalidTopic [spec: jobs-device-api#2.4]', () => {
      for (const [what, payload] of [
        ['text that is not JSON', 'not json'],
        ['a JSON array', '[1,2]'],
        ['a JSON string', '"text"'],
        ['a JSON null', 'null'],
        ['bytes that are not UTF-8 JSON', Buffer.from([0xff, 0xfe, 0x00])],
      ] as const) {
        it(`rejects ${what} with InvalidJson and no clientToken`, async () => {
          const { jobIds, t } = await thingWithJobs(1)
          for (const topic of [t.get, t.startNext, t.describe(jobIds[0]!), t.update(jobIds[0]!)]) {
            const out = await d.request(topic, payload, { clientToken: null })
            assert.equal(out.outcome, 'rejected', topic)
            assert.deepEqual(keys(out.payload), ['code', 'message', 'timestamp'])
            assert.equal(out.payload['code'], 'InvalidJson')
            assert.match(String(out.payload['message']), /JSON/)
          }
        })
      }

      const invalidTopics: [string, (thing: string) => string][] = [
        ['an unknown operation', (thing) => `$aws/things/${thing}/jobs/frobnicate`],
        ['a job id outside [a-zA-Z0-9_-]', (thing) => `$aws/things/${thing}/jobs/a.b/update`],
        ['$next as an update job id', (thing) => `$aws/things/${thing}/jobs/$next/update`],
        ['an unknown verb after a job id', (thing) => `$aws/things/${thing}/jobs/job-1/delete`],
        ['too many segments', (thing) => `$aws/things/${thing}/jobs/job-1/get/more`],
        ['a thing name outside [a-zA-Z0-9:_-]', () => `$aws/things/bad.thing/jobs/get`],
        [
          '[open-question 47] namespaced start-next, off by default',
          (thing) => `$aws/things/${thing}/jobs/namespace-ns1/start-next`,
        ],
      ]
      for (const [what, topicOf] of invalidTopics) {
        it(`[open-question 46] answers ${what} with InvalidTopic on the topic + /rejected, clientToken echoed`, async () => {
          const topic = topicOf(await createThing(h))
          const out = await d.request(topic, { clientToken: 'it' })
          assert.equal(out.topic, `${topic}/rejected`)
          assert.equal(out.payload['code'], 'InvalidTopic')
          assert.equal(out.payload['clientToken'], 'it')
          assert.equal(out.payload['timestamp'], clock.seconds())
        })
      }

      it('[open-question 47] …/jobs/namespace-NS/get is DescribeJobExecution of the job id "namespace-NS" by default', async () => {
        const { t } = await thingWithJobs(0)
        const out = await d.rejected(`${t.base}/namespace-ns1/get`)
        assert.equal(out['code'], 'ResourceNotFound')
      })
    })

    describe('Topic plumbing [spec: jobs-device-api#2.1]', () => {
      it('answers each request exactly once and ignores replies and notifications published by anyone', async () => {
        const { thingName, jobIds, t } = await thingWithJobs(1)
        const all = await d.collect(`${t.base}/#`)
        await d.accepted(t.get)
        await d.accepted(t.describe(jobIds[0]!))
        await d.publish(`${t.get}/accepted`, { clientToken: 'fake' })
        await d.publish(`${t.update(jobIds[0]!)}/rejected`, {})
        await d.publish(t.notify, { timestamp: 1, jobs: {} })
        await d.publish(t.notifyNext, { timestamp: 1 })
        await d.accepted(t.update(jobIds[0]!), { status: 'IN_PROGRESS' })
        await settle(h, d, thingName)
        // [MQTT-3.3.4-2] an MQTT 5 broker MAY deliver one copy per matching subscription (Mosquitto does;
        // `…/#` overlaps the reply subscriptions): identical copies count once there.
        const delivered = mqtt5
          ? [...new Map(all.messages.map((m) => [`${m.topic} ${m.payload.toString()}`, m])).values()]
          : all.messages
        const replies = delivered.filter((m) => /\/(accepted|rejected)$/.test(m.topic))
        const fromService = replies.filter(
          (m) => m.json['clientToken'] !== 'fake' && m.payload.toString() !== '{}',
        )
        // get, describe, update and the settle get: four requests, four replies.
        assert.equal(fromService.length, 4, all.describe())
        assert.ok(
          all.messages.every((m) => !/\/(accepted|rejected)\/rejected$/.test(m.topic)),
          `no reply to a reply:\n${all.describe()}`,
        )
      })

      it('serves devices that subscribe with wildcards and match by clientToken (v2 SDK style)', async () => {
        const { jobIds, t } = await thingWithJobs(1)
        const device = await connect(h)
        try {
          const replies = await device.collect(`${t.base}/+/update/+`)
          await device.publish(t.update(jobIds[0]!), { status: 'IN_PROGRESS', clientToken: 'wild' })
          const reply = await replies.waitFor('the update reply', (m) => m.json['clientToken'] === 'wild')
          assert.equal(reply.topic, `${t.update(jobIds[0]!)}/accepted`)
        } finally {
          await device.close()
        }
      })
    })

    describe('Namespaced topics [spec: jobs-device-api#3]', () => {
      it('$next and update on namespace-NS see only that namespace; plain topics only plain jobs', async () => {
        const thingName = await createThing(h)
        const nsJob = await createJob(h, [thingName], { namespaceId: 'ns1' })
        clock.advance(1000)
        const plainJob = await createJob(h, [thingName])
        const ns = jobsTopics(thingName, 'ns1')
        const t = jobsTopics(thingName)
        const nsNext = await d.request(ns.describe('$next'), { clientToken: 'ns' })
        assert.equal(nsNext.topic, `$aws/things/${thingName}/jobs/$next/namespace-ns1/get/accepted`)
        assert.equal((nsNext.payload['execution'] as Record<string, unknown>)['jobId'], nsJob)
        assert.equal(nsNext.payload['clientToken'], 'ns')
        const plainNext = (await d.accepted(t.describe('$next')))['execution'] as Record<string, unknown>
        assert.equal(plainNext['jobId'], plainJob)
        const pending = await d.accepted(t.get)
        assert.deepEqual(
          (pending['queuedJobs'] as { jobId: string }[]).map((s) => s.jobId),
          [plainJob],
        )
        const started = (await d.accepted(t.startNext))['execution'] as Record<string, unknown>
        assert.equal(started['jobId'], plainJob)

        const updated = await d.request(ns.update(nsJob), {
          status: 'IN_PROGRESS',
          includeJobExecutionState: true,
        })
        assert.equal(updated.topic, `$aws/things/${thingName}/jobs/${nsJob}/namespace-ns1/update/accepted`)
        assert.deepEqual(updated.payload['executionState'], {
          status: 'IN_PROGRESS',
          statusDetails: {},
          versionNumber: 2,
        })
        const described = (await d.accepted(ns.describe(nsJob)))['execution'] as Record<string, unknown>
        assert.equal(described['status'], 'IN_PROGRESS')
        assert.deepEqual(described['jobDocument'], DOC)
        // The HTTP data plane with namespaceId agrees. [open-question 36]
        const http = await h.data.send(new DescribeJobExecutionCommand({ thingName, jobId: nsJob }))
        assert.equal(http.execution?.versionNumber, 2)
      })

      it('a job outside the namespace of the topic is ResourceNotFound, for describe and update', async () => {
        const thingName = await createThing(h)
        const nsJob = await createJob(h, [thingName], { namespaceId: 'ns1' })
        const plainJob = await createJob(h, [thingName])
        const other = jobsTopics(thingName, 'ns2')
        const ns = jobsTopics(thingName, 'ns1')
        for (const [topic, payload] of [
          [other.describe(nsJob), {}],
          [ns.describe(plainJob), {}],
          [other.update(nsJob), { status: 'IN_PROGRESS' }],
          [ns.update(plainJob), { status: 'IN_PROGRESS' }],
        ] as const) {
          assert.equal((await d.rejected(topic, payload))['code'], 'ResourceNotFound', topic)
        }
        assert.equal((await httpState(nsJob, thingName)).versionNumber, 1)
        assert.equal((await httpState(plainJob, thingName)).versionNumber, 1)
        assert.deepEqual(await d.accepted(other.describe('$next'), { clientToken: 'e' }), {
          timestamp: clock.seconds(),
          clientToken: 'e',
        })
      })

      it('[spec: jobs-device-api#1.1] a plain topic naming the job id reaches a namespaced job', async () => {
        const thingName = await createThing(h)
        const nsJob = await createJob(h, [thingName], { namespaceId: 'ns1' })
        const e = (await d.accepted(jobsTopics(thingName).describe(nsJob)))['execution'] as Record<
          string,
          unknown
        >
        assert.equal(e['jobId'], nsJob)
      })
    })

    describe('Notifications reach devices through this broker [spec: jobs-device-api#4]', () => {
      it('a new job publishes notify and notify-next; finishing it publishes notify {} and notify-next without execution', async () => {
        const thingName = await createThing(h)
        const t = jobsTopics(thingName)
        const notify = await d.collect(t.notify)
        const next = await d.collect(t.notifyNext)
        const jobId = await createJob(h, [thingName])
        const n1 = await notify.waitFor('notify of the new job', () => true)
        assert.deepEqual(Object.keys(n1.json['jobs'] as object), ['QUEUED'])
        const x1 = await next.waitFor('notify-next of the new job', () => true)
        assert.equal((x1.json['execution'] as Record<string, unknown>)['jobId'], jobId)
        assert.deepEqual((x1.json['execution'] as Record<string, unknown>)['jobDocument'], DOC)
        await d.accepted(t.update(jobId), { status: 'SUCCEEDED' })
        const n2 = await notify.waitFor('notify after SUCCEEDED', () => true, { from: 1 })
        assert.deepEqual(n2.json, { timestamp: clock.seconds(), jobs: {} })
        const x2 = await next.waitFor('notify-next after SUCCEEDED', () => true, { from: 1 })
        assert.deepEqual(x2.json, { timestamp: clock.seconds() })
        assert.equal(n2.qos, 1)
        assert.equal(n2.retain, false)
        // Unsolicited: no request, so nothing to correlate.
        assert.equal(n2.properties?.correlationData, undefined)
      })
    })

    if (mqtt5)
      describe('MQTT 5: Correlation Data and Response Topic [docs: mqtt.md#mqtt-5]', () => {
        it('every reply carries its request’s Correlation Data, on …/accepted and on …/rejected', async () => {
          const { jobIds, t } = await thingWithJobs(1)
          const tag = (s: string) => ({ correlationData: Buffer.from(s) })
          const got = await d.request(t.get, {}, { properties: tag('get') })
          assert.equal(got.outcome, 'accepted')
          assert.deepEqual(got.properties?.correlationData, Buffer.from('get'))
          const started = await d.request(t.startNext, {}, { properties: tag('start') })
          assert.equal(started.outcome, 'accepted')
          assert.deepEqual(started.properties?.correlationData, Buffer.from('start'))
          const wrong = await d.request(
            t.update(jobIds[0]!),
            { status: 'SUCCEEDED', expectedVersion: 1 },
            { properties: tag('stale') },
          )
          assert.equal(wrong.outcome, 'rejected')
          assert.equal(wrong.payload['code'], 'VersionMismatch')
          assert.deepEqual(wrong.properties?.correlationData, Buffer.from('stale'))
          const missing = await d.request(t.describe('no-such-job'), {}, { properties: tag('missing') })
          assert.equal(missing.payload['code'], 'ResourceNotFound')
          assert.deepEqual(missing.properties?.correlationData, Buffer.from('missing'))
          const bad = await d.request(t.get, 'not json', { clientToken: null, properties: tag('json') })
          assert.equal(bad.payload['code'], 'InvalidJson')
          assert.deepEqual(bad.properties?.correlationData, Buffer.from('json'))
          const invalid = await d.request(`${t.base}/no/such/op`, {}, { properties: tag('topic') })
          assert.equal(invalid.payload['code'], 'InvalidTopic')
          assert.deepEqual(invalid.properties?.correlationData, Buffer.from('topic'))
          // Binary data comes back byte for byte.
          const bytes = Buffer.from([0, 255, 10, 13, 128])
          const binary = await d.request(t.get, {}, { properties: { correlationData: bytes } })
          assert.deepEqual(binary.properties?.correlationData, bytes)
          // Without Correlation Data, the reply has none.
          const plain = await d.request(t.get)
          assert.equal(plain.properties?.correlationData, undefined)
        })

        it('a Response Topic is not followed: the reply comes on …/accepted, nothing on the Response Topic', async () => {
          const { thingName, t } = await thingWithJobs(1)
          const elsewhere = `fleetjobs-test/${unique('responses')}`
          const responses = await d.collect(elsewhere)
          const got = await d.request(
            t.get,
            {},
            { properties: { responseTopic: elsewhere, correlationData: Buffer.from('rt') } },
          )
          assert.equal(got.topic, `${t.get}/accepted`)
          assert.deepEqual(got.properties?.correlationData, Buffer.from('rt'))
          await settle(h, d, thingName)
          assert.deepEqual(responses.messages, [])
        })
      })
  })

  describe(`MQTT device API on ${name}, switched open questions [spec: jobs-device-api#3] [open-question 42] [open-question 47]`, () => {
    let h: Harness
    let d: DeviceClient
    before(async () => {
      h = await startHarness({
        clock: new ManualClock(),
        settings: { terminalStateOnDescribe: true },
        mqtt: { ...options.mqtt, namespacedListTopics: true },
      })
      d = await connect(h)
    })
    after(async () => {
      await d?.close()
      await h?.close()
    })

    it('[open-question 42] describing a terminal execution is TerminalStateReached; pending ones still answer', async () => {
      const thingName = await createThing(h)
      const done = await createJob(h, [thingName])
      const open = await createJob(h, [thingName])
      await report(h, done, thingName, 'SUCCEEDED')
      const t = jobsTopics(thingName)
      const out = await d.rejected(t.describe(done), { clientToken: 'term' })
      assert.equal(out['code'], 'TerminalStateReached')
      assert.equal(out['clientToken'], 'term')
      assert.equal(
        ((await d.accepted(t.describe(open)))['execution'] as Record<string, unknown>)['status'],
        'QUEUED',
      )
    })

    it('[open-question 47] namespace-NS/get lists and namespace-NS/start-next starts only that namespace', async () => {
      const thingName = await createThing(h)
      const nsJob = await createJob(h, [thingName], { namespaceId: 'ns1' })
      const plainJob = await createJob(h, [thingName])
      const base = jobsTopics(thingName).base
      const list = await d.request(`${base}/namespace-ns1/get`)
      assert.equal(list.topic, `${base}/namespace-ns1/get/accepted`)
      assert.deepEqual(
        (list.payload['queuedJobs'] as { jobId: string }[]).map((s) => s.jobId),
        [nsJob],
      )
      const started = await d.accepted(`${base}/namespace-ns1/start-next`)
      assert.equal((started['execution'] as Record<string, unknown>)['jobId'], nsJob)
      assert.equal((started['execution'] as Record<string, unknown>)['status'], 'IN_PROGRESS')
      const plain = await d.accepted(`${base}/get`)
      assert.deepEqual(
        (plain['queuedJobs'] as { jobId: string }[]).map((s) => s.jobId),
        [plainJob],
      )
    })
  })
}
