/**
 * Domain records → AWS response shapes. Control-plane timestamps are epoch seconds with a
 * fraction; data-plane ones are integer epoch seconds. [spec: wire-protocol#4-timestamps]
 */
import type { ArnScope } from '../domain/arns.js'
import { jobArn, jobTemplateArn, thingArn, thingGroupArn } from '../domain/arns.js'
import type { JobTemplate } from '../domain/templates.js'
import type { ThingGroup } from '../domain/thing-groups.js'
import type { Execution, Job, Thing } from '../domain/records.js'
import { approximateSecondsBeforeTimedOut, rolloutFinished } from '../domain/records.js'
import { scheduleOf } from '../domain/job-schedule.js'
import { nextWindowStarts } from '../domain/maintenance-windows.js'
import type { CACertificate, Certificate } from '../domain/certificates.js'
import { caCertificateArn, certificateArn } from '../domain/certificates.js'

/** Control plane: seconds, fraction allowed. */
export const cpTime = (ms: number): number => ms / 1000
/** Data plane and MQTT: integer seconds. [open-question 1] */
export const dpTime = (ms: number): number => Math.floor(ms / 1000)

const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

export function thingDescription(scope: ArnScope, t: Thing): object {
  return {
    defaultClientId: t.thingName,
    thingName: t.thingName,
    thingId: t.thingId,
    thingArn: thingArn(scope, t.thingName),
    attributes: t.attributes,
    version: t.version,
  }
}

export function thingAttribute(scope: ArnScope, t: Thing): object {
  return {
    thingName: t.thingName,
    thingArn: thingArn(scope, t.thingName),
    attributes: t.attributes,
    version: t.version,
  }
}

const wasCanceled = (job: Job): boolean =>
  job.status === 'CANCELED' || job.reasonCode !== undefined || job.forceCanceled

/**
 * The job is creating executions: its rollout has started and things still wait for theirs.
 * [spec: state-machines#9] (a cancellation runs to its end inside its request, so never "canceling")
 */
const rollingOut = (job: Job): boolean =>
  (job.status === 'IN_PROGRESS' || job.status === 'SCHEDULED') && job.rollout.started && !rolloutFinished(job)

/**
 * The next seven maintenance-window starts of a job that rolls out in windows and still has things
 * to roll out. [spec: newer-in-latest-sdk#control-plane]
 */
function scheduledJobRollouts(job: Job, nowMs: number): { startTime: string }[] | undefined {
  const windows = scheduleOf(job).windows
  if (windows === undefined || (job.status !== 'IN_PROGRESS' && job.status !== 'SCHEDULED')) return undefined
  if (job.rollout.started && rolloutFinished(job)) return undefined
  return nextWindowStarts(windows, nowMs, 7).map((startTime) => ({ startTime }))
}

export function jobShape(scope: ArnScope, job: Job, nowMs: number): object {
  return {
    jobArn: jobArn(scope, job.jobId),
    jobId: job.jobId,
    targetSelection: job.targetSelection,
    status: job.status,
    ...(wasCanceled(job) ? { forceCanceled: job.forceCanceled } : {}),
    ...opt('reasonCode', job.reasonCode),
    ...opt('comment', job.comment),
    targets: job.targets,
    ...opt('description', job.description),
    ...opt('presignedUrlConfig', job.presignedUrlConfig),
    ...opt('jobExecutionsRolloutConfig', job.jobExecutionsRolloutConfig),
    ...opt('abortConfig', job.abortConfig),
    createdAt: cpTime(job.createdAtMs),
    lastUpdatedAt: cpTime(job.lastUpdatedAtMs),
    ...opt('completedAt', job.completedAtMs === undefined ? undefined : cpTime(job.completedAtMs)),
    jobProcessDetails: {
      numberOfCanceledThings: job.counts.CANCELED,
      numberOfSucceededThings: job.counts.SUCCEEDED,
      numberOfFailedThings: job.counts.FAILED,
      numberOfRejectedThings: job.counts.REJECTED,
      numberOfQueuedThings: job.counts.QUEUED,
      numberOfInProgressThings: job.counts.IN_PROGRESS,
      numberOfRemovedThings: job.counts.REMOVED,
      numberOfTimedOutThings: job.counts.TIMED_OUT,
      // [spec: state-machines#9] the targets still being rolled out; omitted once the rollout is done
      ...(rollingOut(job) ? { processingTargets: job.targets } : {}),
    },
    ...opt('timeoutConfig', job.timeoutConfig),
    ...opt('namespaceId', job.namespaceId),
    ...opt('jobTemplateArn', job.jobTemplateArn),
    ...opt('jobExecutionsRetryConfig', job.jobExecutionsRetryConfig),
    ...opt('documentParameters', job.documentParameters),
    isConcurrent: rollingOut(job),
    ...opt('schedulingConfig', job.schedulingConfig),
    ...opt('scheduledJobRollouts', scheduledJobRollouts(job, nowMs)),
    ...opt('destinationPackageVersions', job.destinationPackageVersions),
  }
}

export function jobSummary(scope: ArnScope, job: Job, thingGroupId?: string): object {
  return {
    jobArn: jobArn(scope, job.jobId),
    jobId: job.jobId,
    ...opt('thingGroupId', thingGroupId),
    targetSelection: job.targetSelection,
    status: job.status,
    createdAt: cpTime(job.createdAtMs),
    lastUpdatedAt: cpTime(job.lastUpdatedAtMs),
    ...opt('completedAt', job.completedAtMs === undefined ? undefined : cpTime(job.completedAtMs)),
    isConcurrent: rollingOut(job),
  }
}

export function cpExecution(scope: ArnScope, e: Execution, nowMs: number): object {
  return {
    jobId: e.jobId,
    status: e.status,
    ...(e.forceCanceled ? { forceCanceled: true } : {}),
    statusDetails: { detailsMap: e.statusDetails },
    thingArn: thingArn(scope, e.thingName),
    queuedAt: cpTime(e.queuedAtMs),
    ...opt('startedAt', e.startedAtMs === undefined ? undefined : cpTime(e.startedAtMs)),
    lastUpdatedAt: cpTime(e.lastUpdatedAtMs),
    executionNumber: e.executionNumber,
    versionNumber: e.versionNumber,
    ...opt('approximateSecondsBeforeTimedOut', approximateSecondsBeforeTimedOut(e, nowMs)),
  }
}

export function cpExecutionSummary(e: Execution): object {
  return {
    status: e.status,
    queuedAt: cpTime(e.queuedAtMs),
    ...opt('startedAt', e.startedAtMs === undefined ? undefined : cpTime(e.startedAtMs)),
    lastUpdatedAt: cpTime(e.lastUpdatedAtMs),
    executionNumber: e.executionNumber,
    retryAttempt: e.retryAttempt,
  }
}

/** Data-plane `JobExecution`; the document is a JSON string over HTTP. [spec: jobs-device-api#1.1] */
export function dpExecution(e: Execution, nowMs: number, jobDocument?: string): object {
  return {
    jobId: e.jobId,
    thingName: e.thingName,
    status: e.status,
    statusDetails: e.statusDetails,
    queuedAt: dpTime(e.queuedAtMs),
    ...opt('startedAt', e.startedAtMs === undefined ? undefined : dpTime(e.startedAtMs)),
    lastUpdatedAt: dpTime(e.lastUpdatedAtMs),
    ...opt('approximateSecondsBeforeTimedOut', approximateSecondsBeforeTimedOut(e, nowMs)),
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
    ...opt('jobDocument', jobDocument),
  }
}

export function dpExecutionSummary(e: Execution): object {
  return {
    jobId: e.jobId,
    queuedAt: dpTime(e.queuedAtMs),
    ...opt('startedAt', e.startedAtMs === undefined ? undefined : dpTime(e.startedAtMs)),
    lastUpdatedAt: dpTime(e.lastUpdatedAtMs),
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
  }
}

export function executionState(e: Execution): object {
  return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber }
}

export function groupNameAndArn(scope: ArnScope, g: ThingGroup): object {
  return { groupName: g.thingGroupName, groupArn: thingGroupArn(scope, g.thingGroupName) }
}

/** DescribeThingGroup. rootToParentThingGroups runs root first [open-question 9]. */
export function thingGroupDescription(
  scope: ArnScope,
  g: ThingGroup,
  ancestors: readonly ThingGroup[],
): object {
  return {
    thingGroupName: g.thingGroupName,
    thingGroupId: g.thingGroupId,
    thingGroupArn: thingGroupArn(scope, g.thingGroupName),
    version: g.version,
    thingGroupProperties: g.properties,
    thingGroupMetadata: {
      ...opt('parentGroupName', g.parentGroupName),
      ...(ancestors.length === 0
        ? {}
        : { rootToParentThingGroups: ancestors.map((a) => groupNameAndArn(scope, a)) }),
      creationDate: cpTime(g.createdAtMs),
    },
  }
}

export function jobTemplate(scope: ArnScope, t: JobTemplate): object {
  return {
    jobTemplateArn: jobTemplateArn(scope, t.jobTemplateId),
    jobTemplateId: t.jobTemplateId,
    description: t.description,
    ...opt('documentSource', t.documentSource),
    ...opt('document', t.document),
    createdAt: cpTime(t.createdAtMs),
    ...opt('presignedUrlConfig', t.presignedUrlConfig),
    ...opt('jobExecutionsRolloutConfig', t.jobExecutionsRolloutConfig),
    ...opt('abortConfig', t.abortConfig),
    ...opt('timeoutConfig', t.timeoutConfig),
    ...opt('jobExecutionsRetryConfig', t.jobExecutionsRetryConfig),
    ...opt('maintenanceWindows', t.maintenanceWindows),
    ...opt('destinationPackageVersions', t.destinationPackageVersions),
  }
}

export function jobTemplateSummary(scope: ArnScope, t: JobTemplate): object {
  return {
    jobTemplateArn: jobTemplateArn(scope, t.jobTemplateId),
    jobTemplateId: t.jobTemplateId,
    description: t.description,
    createdAt: cpTime(t.createdAtMs),
  }
}

// ---- the certificate registry [aws: iot certificates] ----

/** [aws: DescribeCertificate] CertificateDescription. */
export function certificateDescription(scope: ArnScope, c: Certificate): object {
  return {
    certificateArn: certificateArn(scope, c.certificateId),
    certificateId: c.certificateId,
    ...opt('caCertificateId', c.caCertificateId),
    status: c.status,
    certificatePem: c.certificatePem,
    ownedBy: scope.accountId,
    creationDate: cpTime(c.createdAtMs),
    lastModifiedDate: cpTime(c.lastModifiedAtMs),
    customerVersion: c.customerVersion,
    transferData: {},
    generationId: c.generationId,
    validity: { notBefore: cpTime(c.notBeforeMs), notAfter: cpTime(c.notAfterMs) },
    certificateMode: c.certificateMode,
  }
}

/** [aws: ListCertificates] Certificate. */
export function certificateSummary(scope: ArnScope, c: Certificate): object {
  return {
    certificateArn: certificateArn(scope, c.certificateId),
    certificateId: c.certificateId,
    status: c.status,
    certificateMode: c.certificateMode,
    creationDate: cpTime(c.createdAtMs),
  }
}

/** [aws: DescribeCACertificate] CACertificateDescription. */
export function caCertificateDescription(scope: ArnScope, c: CACertificate): object {
  return {
    certificateArn: caCertificateArn(scope, c.certificateId),
    certificateId: c.certificateId,
    status: c.status,
    certificatePem: c.certificatePem,
    ownedBy: scope.accountId,
    creationDate: cpTime(c.createdAtMs),
    autoRegistrationStatus: c.autoRegistrationStatus,
    lastModifiedDate: cpTime(c.lastModifiedAtMs),
    customerVersion: c.customerVersion,
    generationId: c.generationId,
    validity: { notBefore: cpTime(c.notBeforeMs), notAfter: cpTime(c.notAfterMs) },
    certificateMode: c.certificateMode,
  }
}

/** [aws: ListCACertificates] CACertificate. */
export function caCertificateSummary(scope: ArnScope, c: CACertificate): object {
  return {
    certificateArn: caCertificateArn(scope, c.certificateId),
    certificateId: c.certificateId,
    status: c.status,
    creationDate: cpTime(c.createdAtMs),
  }
}
