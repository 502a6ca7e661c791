/** Things and thing groups: lists, a thing's groups and executions, a group's place and members. */
import { useState } from 'preact/hooks'
import { aws } from '../api.js'
import { formatTime } from '../format.js'
import { hrefOf } from '../route.js'
import { ErrorNote, Facts, Loading, Pager, StatusBadge, useLoad, usePager } from './common.js'
import { CreateJobDialog } from './jobs.js'

const PAGE = 100

export function ThingsPage() {
  const pager = usePager()
  const things = useLoad(`things:${pager.token ?? ''}`, () =>
    aws<{
      things?: { thingName: string; attributes?: Record<string, string>; version?: number }[]
      nextToken?: string
    }>('ListThings', { maxResults: PAGE, ...(pager.token === undefined ? {} : { nextToken: pager.token }) }),
  )
  return (
    <section>
      <header class="page-head">
        <h1>Things</h1>
      </header>
      <ErrorNote error={things.error} />
      {things.data === undefined ? (
        things.error === undefined && <Loading />
      ) : (things.data.things ?? []).length === 0 ? (
        <p class="muted">No things.</p>
      ) : (
        <table class="grid" aria-label="things">
          <thead>
            <tr>
              <th>thing</th>
              <th>attributes</th>
              <th>version</th>
            </tr>
          </thead>
          <tbody>
            {(things.data.things ?? []).map((t) => (
              <tr key={t.thingName}>
                <td>
                  <a href={hrefOf({ page: 'thing', thingName: t.thingName })}>{t.thingName}</a>
                </td>
                <td class="muted">
                  {Object.entries(t.attributes ?? {})
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ')}
                </td>
                <td>{t.version ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} nextToken={things.data?.nextToken} label="things" />
    </section>
  )
}

export function ThingPage({ thingName }: { thingName: string }) {
  const thing = useLoad(`thing:${thingName}`, () =>
    aws<{ thingName: string; thingArn: string; attributes?: Record<string, string>; version?: number }>(
      'DescribeThing',
      { thingName },
    ),
  )
  const groups = useLoad(`thing-groups:${thingName}`, () =>
    aws<{ thingGroups?: { groupName: string }[] }>('ListThingGroupsForThing', { thingName, maxResults: 100 }),
  )
  const pager = usePager()
  const executions = useLoad(`thing-executions:${thingName}:${pager.token ?? ''}`, () =>
    aws<{
      executionSummaries?: {
        jobId: string
        jobExecutionSummary: {
          status: string
          executionNumber: number
          retryAttempt?: number
          lastUpdatedAt?: number
        }
      }[]
      nextToken?: string
    }>('ListJobExecutionsForThing', {
      thingName,
      maxResults: PAGE,
      ...(pager.token === undefined ? {} : { nextToken: pager.token }),
    }),
  )
  return (
    <section>
      <h1>
        Thing <span class="mono">{thingName}</span>
      </h1>
      <ErrorNote error={thing.error} />
      {thing.data !== undefined && (
        <Facts
          rows={[
            ['arn', <span class="mono">{thing.data.thingArn}</span>],
            [
              'attributes',
              Object.entries(thing.data.attributes ?? {})
                .map(([k, v]) => `${k}=${v}`)
                .join(', ') || '—',
            ],
            [
              'groups',
              (groups.data?.thingGroups ?? []).length === 0
                ? '—'
                : (groups.data?.thingGroups ?? []).map((g, i) => (
                    <span key={g.groupName}>
                      {i > 0 && ', '}
                      <a href={hrefOf({ page: 'group', groupName: g.groupName })}>{g.groupName}</a>
                    </span>
                  )),
            ],
          ]}
        />
      )}
      <h2>Executions</h2>
      <ErrorNote error={executions.error} />
      {executions.data === undefined ? (
        executions.error === undefined && <Loading />
      ) : (
        <table class="grid" aria-label="thing executions">
          <thead>
            <tr>
              <th>job</th>
              <th>#</th>
              <th>retry</th>
              <th>status</th>
              <th>last update</th>
            </tr>
          </thead>
          <tbody>
            {(executions.data.executionSummaries ?? []).map((e) => (
              <tr key={`${e.jobId}#${e.jobExecutionSummary.executionNumber}`}>
                <td>
                  <a href={hrefOf({ page: 'job', jobId: e.jobId })}>{e.jobId}</a>
                </td>
                <td>{e.jobExecutionSummary.executionNumber}</td>
                <td>{e.jobExecutionSummary.retryAttempt ?? 0}</td>
                <td>
                  <StatusBadge status={e.jobExecutionSummary.status} />
                </td>
                <td>{formatTime(e.jobExecutionSummary.lastUpdatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} nextToken={executions.data?.nextToken} label="thing executions" />
    </section>
  )
}

export function GroupsPage() {
  const pager = usePager()
  const groups = useLoad(`groups:${pager.token ?? ''}`, () =>
    aws<{ thingGroups?: { groupName: string; groupArn: string }[]; nextToken?: string }>('ListThingGroups', {
      maxResults: PAGE,
      ...(pager.token === undefined ? {} : { nextToken: pager.token }),
    }),
  )
  return (
    <section>
      <header class="page-head">
        <h1>Thing groups</h1>
      </header>
      <ErrorNote error={groups.error} />
      {groups.data === undefined ? (
        groups.error === undefined && <Loading />
      ) : (groups.data.thingGroups ?? []).length === 0 ? (
        <p class="muted">No thing groups.</p>
      ) : (
        <ul class="plain-list" aria-label="thing groups">
          {(groups.data.thingGroups ?? []).map((g) => (
            <li key={g.groupName}>
              <a href={hrefOf({ page: 'group', groupName: g.groupName })}>{g.groupName}</a>
            </li>
          ))}
        </ul>
      )}
      <Pager pager={pager} nextToken={groups.data?.nextToken} label="thing groups" />
    </section>
  )
}

export function GroupPage({ groupName }: { groupName: string }) {
  const [creating, setCreating] = useState(false)
  const group = useLoad(`group:${groupName}`, () =>
    aws<{
      thingGroupArn: string
      thingGroupProperties?: { thingGroupDescription?: string }
      thingGroupMetadata?: { parentGroupName?: string; rootToParentThingGroups?: { groupName: string }[] }
    }>('DescribeThingGroup', { thingGroupName: groupName }),
  )
  const children = useLoad(`group-children:${groupName}`, () =>
    aws<{ thingGroups?: { groupName: string }[] }>('ListThingGroups', {
      parentGroup: groupName,
      recursive: false,
      maxResults: 250,
    }),
  )
  const pager = usePager()
  const members = useLoad(`group-members:${groupName}:${pager.token ?? ''}`, () =>
    aws<{ things?: string[]; nextToken?: string }>('ListThingsInThingGroup', {
      thingGroupName: groupName,
      recursive: false,
      maxResults: PAGE,
      ...(pager.token === undefined ? {} : { nextToken: pager.token }),
    }),
  )
  const path = group.data?.thingGroupMetadata?.rootToParentThingGroups ?? []
  return (
    <section>
      <header class="page-head">
        <h1>
          Group <span class="mono">{groupName}</span>
        </h1>
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          Create job for this group…
        </button>
      </header>
      <ErrorNote error={group.error} />
      {group.data !== undefined && (
        <Facts
          rows={[
            [
              'hierarchy',
              <span class="crumbs">
                {path.map((p) => (
                  <span key={p.groupName}>
                    <a href={hrefOf({ page: 'group', groupName: p.groupName })}>{p.groupName}</a> ›{' '}
                  </span>
                ))}
                <b>{groupName}</b>
              </span>,
            ],
            ['description', group.data.thingGroupProperties?.thingGroupDescription ?? '—'],
            [
              'subgroups',
              (children.data?.thingGroups ?? []).length === 0
                ? '—'
                : (children.data?.thingGroups ?? []).map((c, i) => (
                    <span key={c.groupName}>
                      {i > 0 && ', '}
                      <a href={hrefOf({ page: 'group', groupName: c.groupName })}>{c.groupName}</a>
                    </span>
                  )),
            ],
            ['arn', <span class="mono">{group.data.thingGroupArn}</span>],
          ]}
        />
      )}
      <h2>Members</h2>
      <ErrorNote error={members.error} />
      {members.data === undefined ? (
        members.error === undefined && <Loading />
      ) : (members.data.things ?? []).length === 0 ? (
        <p class="muted">No things directly in this group.</p>
      ) : (
        <ul class="plain-list columns-list" aria-label="members">
          {(members.data.things ?? []).map((t) => (
            <li key={t}>
              <a href={hrefOf({ page: 'thing', thingName: t })}>{t}</a>
            </li>
          ))}
        </ul>
      )}
      <Pager pager={pager} nextToken={members.data?.nextToken} label="members" />
      {creating && (
        <CreateJobDialog
          groupName={groupName}
          onClose={() => setCreating(false)}
          onCreated={(jobId) => {
            setCreating(false)
            location.hash = hrefOf({ page: 'job', jobId })
          }}
        />
      )}
    </section>
  )
}
