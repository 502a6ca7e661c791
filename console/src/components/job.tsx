/** One job: its progress, settings and actions, and its executions (filter, pages, details). */
import { useContext, useState } from 'preact/hooks'
import { aws } from '../api.js'
import { formatCount, formatTime, nameOfArn, settingsOf } from '../format.js'
import { STATUSES, STATUS_LABELS, countsOf } from '../progress.js'
import { hrefOf } from '../route.js'
import {
  ErrorNote,
  Facts,
  LiveVersion,
  JsonBlock,
  Loading,
  Pager,
  ProgressBar,
  StatusBadge,
  useConfirm,
  useLoad,
  usePager,
} from './common.js'

/** Executions per page: the model's largest ListJobExecutionsForJob page is 250; 100 reads well. */
export const EXECUTIONS_PAGE = 100

type Json = Record<string, unknown>

/**
 * When the executions table loads again: when the job's counts or state moved (an execution changed
 * status), and on every EXECUTIONS_EVERY-th change announced otherwise (progress reports that move no
 * count, within about two seconds). A busy fleet commits all the time, mostly on other jobs: the
 * table of a 100,000-execution job is not read four times a second for them.
 */
export const EXECUTIONS_EVERY = 8

function executionsRevision(job: Json, live: number): string {
  return `${JSON.stringify(job['jobProcessDetails'])}:${String(job['status'])}:${String(job['lastUpdatedAt'])}:${Math.floor(live / EXECUTIONS_EVERY)}`
}

export function JobPage({ jobId }: { jobId: string }) {
  const live = useContext(LiveVersion)
  const job = useLoad(`job:${jobId}`, () =>
    aws<{ job: Json; documentSource?: string }>('DescribeJob', { jobId }),
  )
  const confirm = useConfirm()
  const j = job.data?.job
  if (j === undefined)
    return (
      <section>
        <h1>Job {jobId}</h1>
        <ErrorNote error={job.error} />
        {job.error === undefined && <Loading />}
      </section>
    )
  const status = String(j['status'])
  const open = status === 'IN_PROGRESS' || status === 'SCHEDULED'
  const cancel = (force: boolean) =>
    confirm({
      title: force ? `Force-cancel job ${jobId}?` : `Cancel job ${jobId}?`,
      body: force
        ? 'Queued and in-progress executions become CANCELED; devices working on them are told to stop. This cannot be undone.'
        : 'Queued executions become CANCELED; those in progress may finish. This cannot be undone.',
      confirmLabel: force ? 'Force-cancel job' : 'Cancel job',
      danger: true,
      action: async () => {
        await aws('CancelJob', { jobId, force })
        job.reload()
      },
    })
  const remove = () =>
    confirm({
      title: `Delete job ${jobId}?`,
      body: 'The job and every execution record of it are deleted. Executions still in progress are deleted too (force).',
      confirmLabel: 'Delete job',
      danger: true,
      action: async () => {
        await aws('DeleteJob', { jobId, force: true })
        location.hash = hrefOf({ page: 'jobs' })
      },
    })
  const settings = settingsOf(j)
  const targets = Array.isArray(j['targets']) ? (j['targets'] as string[]) : []
  return (
    <section>
      <header class="page-head">
        <h1>
          Job <span class="mono">{jobId}</span> <StatusBadge status={status} />
        </h1>
        <div class="actions">
          <button type="button" disabled={!open} onClick={() => cancel(false)}>
            Cancel job…
          </button>
          <button type="button" class="danger" disabled={!open} onClick={() => cancel(true)}>
            Force-cancel…
          </button>
          <button type="button" class="danger" onClick={remove}>
            Delete…
          </button>
        </div>
      </header>
      <ErrorNote error={job.error} />
      <ProgressBar counts={countsOf(j['jobProcessDetails'] as Json | undefined)} jobId={jobId} />
      <Facts
        rows={[
          ['description', typeof j['description'] === 'string' ? j['description'] : '—'],
          [
            'targets',
            targets.map((t, i) => (
              <span key={t}>
                {i > 0 && ', '}
                {t.includes(':thinggroup/') ? (
                  <a href={hrefOf({ page: 'group', groupName: nameOfArn(t) })}>group {nameOfArn(t)}</a>
                ) : (
                  <a href={hrefOf({ page: 'thing', thingName: nameOfArn(t) })}>{nameOfArn(t)}</a>
                )}
              </span>
            )),
          ],
          ['selection', String(j['targetSelection'])],
          [
            'template',
            typeof j['jobTemplateArn'] === 'string' ? (
              <a href={hrefOf({ page: 'template', templateId: nameOfArn(j['jobTemplateArn']) })}>
                {nameOfArn(j['jobTemplateArn'])}
              </a>
            ) : (
              '—'
            ),
          ],
          ['created', formatTime(j['createdAt'])],
          ['last updated', formatTime(j['lastUpdatedAt'])],
          ['completed', formatTime(j['completedAt'])],
          ...(typeof j['reasonCode'] === 'string' ? [['reason', j['reasonCode']] as const] : []),
          ...(typeof j['comment'] === 'string' ? [['comment', j['comment']] as const] : []),
          ...settings.map((s) => [s.label, s.text] as const),
        ]}
      />
      <details class="configs">
        <summary>Configuration as DescribeJob returns it</summary>
        <JsonBlock value={j} />
      </details>
      <Executions jobId={jobId} revision={executionsRevision(j, live)} />
    </section>
  )
}

interface ExecutionSummary {
  readonly thingArn: string
  readonly jobExecutionSummary: {
    readonly status: string
    readonly executionNumber: number
    readonly retryAttempt?: number
    readonly queuedAt?: number
    readonly startedAt?: number
    readonly lastUpdatedAt?: number
  }
}

function Executions({ jobId, revision }: { jobId: string; revision: string }) {
  const [status, setStatus] = useState('')
  const pager = usePager()
  const [open, setOpen] = useState<string | undefined>(undefined)
  const page = useLoad(
    `executions:${jobId}:${status}:${pager.token ?? ''}`,
    () =>
      aws<{ executionSummaries?: ExecutionSummary[]; nextToken?: string }>('ListJobExecutionsForJob', {
        jobId,
        maxResults: EXECUTIONS_PAGE,
        ...(status === '' ? {} : { status }),
        ...(pager.token === undefined ? {} : { nextToken: pager.token }),
      }),
    revision,
  )
  const rows = page.data?.executionSummaries ?? []
  return (
    <section class="executions">
      <header class="page-head">
        <h2>Executions</h2>
        <label>
          Status{' '}
          <select
            name="execution-status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value)
              pager.first()
            }}
          >
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </label>
      </header>
      <ErrorNote error={page.error} />
      {page.data === undefined ? (
        page.error === undefined && <Loading />
      ) : rows.length === 0 ? (
        <p class="muted">No executions{status === '' ? '' : ` ${STATUS_LABELS[status as 'QUEUED']}`}.</p>
      ) : (
        <table class="grid" aria-label="executions">
          <thead>
            <tr>
              <th>thing</th>
              <th>status</th>
              <th>#</th>
              <th>retry</th>
              <th>queued</th>
              <th>started</th>
              <th>last update</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const thingName = nameOfArn(r.thingArn)
              const e = r.jobExecutionSummary
              const key = `${thingName}#${e.executionNumber}`
              return [
                <tr key={key} data-thing={thingName} data-status={e.status}>
                  <td>
                    <a href={hrefOf({ page: 'thing', thingName })}>{thingName}</a>
                  </td>
                  <td>
                    <StatusBadge status={e.status} />
                  </td>
                  <td>{e.executionNumber}</td>
                  <td>{e.retryAttempt ?? 0}</td>
                  <td>{formatTime(e.queuedAt)}</td>
                  <td>{formatTime(e.startedAt)}</td>
                  <td>{formatTime(e.lastUpdatedAt)}</td>
                  <td>
                    <button
                      type="button"
                      class="link"
                      onClick={() => setOpen(open === key ? undefined : key)}
                    >
                      {open === key ? 'Hide' : 'Details'}
                    </button>
                  </td>
                </tr>,
                open === key && (
                  <tr key={`${key}:details`} class="details-row">
                    <td colSpan={8}>
                      <ExecutionDetails
                        jobId={jobId}
                        thingName={thingName}
                        executionNumber={e.executionNumber}
                        onDeleted={() => setOpen(undefined)}
                      />
                    </td>
                  </tr>
                ),
              ]
            })}
          </tbody>
        </table>
      )}
      <Pager pager={pager} nextToken={page.data?.nextToken} label="executions" />
    </section>
  )
}

/** One execution: its statusDetails and versions, every attempt of the job on the thing, delete. */
export function ExecutionDetails({
  jobId,
  thingName,
  executionNumber,
  onDeleted,
}: {
  jobId: string
  thingName: string
  executionNumber: number
  onDeleted: () => void
}) {
  const confirm = useConfirm()
  const [force, setForce] = useState(false)
  const detail = useLoad(`execution:${jobId}:${thingName}:${executionNumber}`, () =>
    aws<{ execution: Json }>('DescribeJobExecution', { jobId, thingName, executionNumber }),
  )
  // Retries are new executions (new numbers) of the same job on the same thing: the attempt history.
  const attempts = useLoad(`attempts:${jobId}:${thingName}`, () =>
    aws<{
      executionSummaries?: { jobId: string; jobExecutionSummary: ExecutionSummary['jobExecutionSummary'] }[]
    }>('ListJobExecutionsForThing', { thingName, jobId, maxResults: 100 }),
  )
  const e = detail.data?.execution
  const details =
    (e?.['statusDetails'] as { detailsMap?: Record<string, string> } | undefined)?.detailsMap ?? {}
  const entries = Object.entries(details)
  const status = typeof e?.['status'] === 'string' ? e['status'] : ''
  const remove = () =>
    confirm({
      title: `Delete execution ${executionNumber} of ${thingName}?`,
      body: (
        <>
          The record of execution {executionNumber} of job <b>{jobId}</b> on <b>{thingName}</b> is deleted
          {force ? ', even though it may be in progress' : ''}. This cannot be undone.
        </>
      ),
      confirmLabel: 'Delete execution',
      danger: true,
      action: async () => {
        await aws('DeleteJobExecution', { jobId, thingName, executionNumber, force })
        onDeleted()
      },
    })
  return (
    <div class="execution-details" data-thing={thingName} data-execution={executionNumber}>
      <ErrorNote error={detail.error} />
      {e === undefined ? (
        detail.error === undefined && <Loading />
      ) : (
        <div class="columns">
          <div>
            <h3>Status details</h3>
            {entries.length === 0 ? (
              <p class="muted">none</p>
            ) : (
              <table class="kv" aria-label="status details">
                <tbody>
                  {entries.map(([k, v]) => (
                    <tr key={k}>
                      <th>{k}</th>
                      <td>{v}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <Facts
              rows={[
                ['status', <StatusBadge key="s" status={status} />],
                ['version', String(e['versionNumber'])],
                ...(e['forceCanceled'] === true ? [['force-canceled', 'yes'] as const] : []),
                ...(typeof e['approximateSecondsBeforeTimedOut'] === 'number'
                  ? [['times out in', `${formatCount(e['approximateSecondsBeforeTimedOut'])} s`] as const]
                  : []),
              ]}
            />
          </div>
          <div>
            <h3>Attempts</h3>
            <ErrorNote error={attempts.error} />
            <table class="grid small" aria-label="attempts">
              <thead>
                <tr>
                  <th>#</th>
                  <th>retry</th>
                  <th>status</th>
                  <th>queued</th>
                  <th>last update</th>
                </tr>
              </thead>
              <tbody>
                {(attempts.data?.executionSummaries ?? [])
                  .filter((a) => a.jobId === jobId)
                  .map((a) => (
                    <tr
                      key={a.jobExecutionSummary.executionNumber}
                      class={a.jobExecutionSummary.executionNumber === executionNumber ? 'current' : ''}
                    >
                      <td>{a.jobExecutionSummary.executionNumber}</td>
                      <td>{a.jobExecutionSummary.retryAttempt ?? 0}</td>
                      <td>
                        <StatusBadge status={a.jobExecutionSummary.status} />
                      </td>
                      <td>{formatTime(a.jobExecutionSummary.queuedAt)}</td>
                      <td>{formatTime(a.jobExecutionSummary.lastUpdatedAt)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
      <div class="actions">
        <label class="check">
          <input type="checkbox" checked={force} onChange={(ev) => setForce(ev.currentTarget.checked)} />{' '}
          force (delete even if in progress)
        </label>
        <button type="button" class="danger" onClick={remove}>
          Delete execution…
        </button>
      </div>
    </div>
  )
}
