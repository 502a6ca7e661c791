import type { ArnScope } from '../domain/arns.js'
import type { GroupLimits } from '../domain/thing-groups.js'
import { DEFAULT_GROUP_LIMITS } from '../domain/thing-groups.js'
import type { Clock } from '../ports/clock.js'
import type { Pki } from '../ports/pki.js'
import type { Store } from '../ports/store.js'

/** Settings for behaviours the spec leaves open or calls configurable quotas. [spec: limits#4] */
export interface AppSettings {
  /** Targets per job (AWS: 100). */
  readonly maxTargetsPerJob: number
  /** Executions returned by GetPendingJobExecutions (AWS: 10). [open-question 38] */
  readonly maxPendingExecutions: number
  /** Attributes per thing without a thing type (AWS: 3). */
  readonly maxThingAttributes: number
  /** Page size when `maxResults` is absent. [open-question 2] */
  readonly defaultPageSize: number
  /** Raise TerminalStateException when a device describes a terminal execution. [open-question 42] */
  readonly terminalStateOnDescribe: boolean
  /** Thing-group hierarchy and membership limits. [spec: things#hierarchy-rules] */
  readonly groups: GroupLimits
  /** [open-question 34] accept documentParameters with custom templates (AWS: managed templates only). */
  readonly allowDocumentParametersWithCustomTemplates: boolean
  /** [spec: limits#4] jobs in DELETION_IN_PROGRESS at once */
  readonly maxJobsBeingDeleted: number
}

export const DEFAULT_SETTINGS: AppSettings = {
  maxTargetsPerJob: 100,
  maxPendingExecutions: 10,
  maxThingAttributes: 3,
  defaultPageSize: 50,
  terminalStateOnDescribe: false,
  groups: DEFAULT_GROUP_LIMITS,
  maxJobsBeingDeleted: 10,
  allowDocumentParametersWithCustomTemplates: true,
}

/** Everything a use case may touch. */
export interface AppContext {
  readonly store: Store
  readonly clock: Clock
  readonly scope: ArnScope
  readonly settings: AppSettings
  /** Tells a background worker that it has work (after the commit that created it). */
  readonly wake: (worker: 'jobDeletion') => void
  /** The time-driven work and the clock's mode. [spec: test-clock] */
  readonly time: TimeControl
  /** X.509 parsing, signature checks and fleetjobs' own CA, for the certificate registry. */
  readonly pki: Pki
  /**
   * Called after the commit that took rights from a certificate (deactivated, revoked, deleted, or
   * detached from `thingName`): the device listeners close the live connections that used them.
   */
  readonly certificateRightsRevoked: (change: CertificateRightsChange) => void
}

/** Which rights a certificate lost: all of them, or only to act as one thing. */
export interface CertificateRightsChange {
  readonly certificateId: string
  /** Set when only the attachment to this thing went (DetachThingPrincipal). */
  readonly thingName?: string
}

/** What the use cases may ask of the time-driven work. */
export interface TimeControl {
  readonly mode: 'system' | 'virtual'
  /** Applies what is due now: a request met an execution past its deadline before the sweep did. */
  settleDue(): Promise<void>
  /** Virtual mode: moves the clock to `targetMs`, applying every effect due on the way, in time order. */
  advanceTo(targetMs: number): Promise<void>
}
