/** Job templates: the list, one template's document and settings, and a job from it. */
import { useState } from 'preact/hooks'
import { aws } from '../api.js'
import { formatTime, settingsOf } from '../format.js'
import { hrefOf } from '../route.js'
import { ErrorNote, Facts, JsonBlock, Loading, Pager, useLoad, usePager } from './common.js'
import { CreateJobDialog } from './jobs.js'

export function TemplatesPage() {
  const pager = usePager()
  const templates = useLoad(`templates:${pager.token ?? ''}`, () =>
    aws<{
      jobTemplates?: { jobTemplateId: string; description?: string; createdAt?: number }[]
      nextToken?: string
    }>('ListJobTemplates', {
      maxResults: 100,
      ...(pager.token === undefined ? {} : { nextToken: pager.token }),
    }),
  )
  return (
    <section>
      <header class="page-head">
        <h1>Job templates</h1>
      </header>
      <ErrorNote error={templates.error} />
      {templates.data === undefined ? (
        templates.error === undefined && <Loading />
      ) : (templates.data.jobTemplates ?? []).length === 0 ? (
        <p class="muted">No job templates.</p>
      ) : (
        <table class="grid" aria-label="job templates">
          <thead>
            <tr>
              <th>template</th>
              <th>description</th>
              <th>created</th>
            </tr>
          </thead>
          <tbody>
            {(templates.data.jobTemplates ?? []).map((t) => (
              <tr key={t.jobTemplateId}>
                <td>
                  <a href={hrefOf({ page: 'template', templateId: t.jobTemplateId })}>{t.jobTemplateId}</a>
                </td>
                <td>{t.description ?? ''}</td>
                <td>{formatTime(t.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} nextToken={templates.data?.nextToken} label="templates" />
    </section>
  )
}

export function TemplatePage({ templateId }: { templateId: string }) {
  const [creating, setCreating] = useState(false)
  const t = useLoad(`template:${templateId}`, () =>
    aws<Record<string, unknown>>('DescribeJobTemplate', { jobTemplateId: templateId }),
  )
  return (
    <section>
      <header class="page-head">
        <h1>
          Template <span class="mono">{templateId}</span>
        </h1>
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          Create job from this template…
        </button>
      </header>
      <ErrorNote error={t.error} />
      {t.data === undefined ? (
        t.error === undefined && <Loading />
      ) : (
        <>
          <Facts
            rows={[
              ['description', typeof t.data['description'] === 'string' ? t.data['description'] : '—'],
              ['created', formatTime(t.data['createdAt'])],
              ...(typeof t.data['documentSource'] === 'string'
                ? [['document source', t.data['documentSource']] as const]
                : []),
              ...settingsOf(t.data).map((s) => [s.label, s.text] as const),
            ]}
          />
          {typeof t.data['document'] === 'string' && (
            <>
              <h2>Document</h2>
              <JsonBlock value={t.data['document']} />
            </>
          )}
        </>
      )}
      {creating && (
        <CreateJobDialog
          templateId={templateId}
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
