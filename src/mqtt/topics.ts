/**
 * The reserved Jobs topics, parsed and built (pure). [spec: jobs-device-api#2.1, #3]
 *
 *   $aws/things/{thing}/jobs/get                          GetPendingJobExecutions
 *   $aws/things/{thing}/jobs/start-next                   StartNextPendingJobExecution
 *   $aws/things/{thing}/jobs/{jobId|$next}/get            DescribeJobExecution
 *   $aws/things/{thing}/jobs/{jobId}/update               UpdateJobExecution
 *   $aws/things/{thing}/jobs/{jobId|$next}/namespace-{NS}/get     namespaced describe
 *   $aws/things/{thing}/jobs/{jobId}/namespace-{NS}/update        namespaced update
 *   $aws/things/{thing}/jobs/namespace-{NS}/get|start-next        only with `namespacedListTopics` [open-question 47]
 */

export type DeviceOperation =
  'GetPendingJobExecutions' | 'StartNextPendingJobExecution' | 'DescribeJobExecution' | 'UpdateJobExecution'

export interface DeviceRequestTopic {
  readonly kind: 'request'
  readonly operation: DeviceOperation
  readonly thingName: string
  readonly jobId?: string
  readonly namespaceId?: string
  /** The request topic; replies go to `${topic}/accepted` and `${topic}/rejected`. */
  readonly topic: string
}

/** A topic under the thing's jobs tree that names no operation: answered with InvalidTopic [open-question 46]. */
export interface InvalidDeviceTopic {
  readonly kind: 'invalid'
  readonly thingName: string
  readonly topic: string
}

/** Something the service publishes itself or does not serve: ignored. */
export interface IgnoredTopic {
  readonly kind: 'ignored'
}

export type ParsedTopic = DeviceRequestTopic | InvalidDeviceTopic | IgnoredTopic

const THING = /^[a-zA-Z0-9:_-]{1,128}$/
const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/
const NAMESPACE = /^namespace-([a-zA-Z0-9_-]{1,64})$/
const NEXT = '$next'
const REPLY = new Set(['accepted', 'rejected'])
const NOTIFY = /^notify(-next)?(-namespace-[a-zA-Z0-9_-]{1,64})?$/

export interface TopicOptions {
  /** Serve `…/jobs/namespace-{NS}/get` and `…/start-next` [open-question 47]; off by default. */
  readonly namespacedListTopics: boolean
}

export function parseTopic(topic: string, options: TopicOptions): ParsedTopic {
  const parts = topic.split('/')
  if (parts[0] !== '$aws' || parts[1] !== 'things' || parts[3] !== 'jobs') return { kind: 'ignored' }
  const thingName = parts[2] ?? ''
  const rest = parts.slice(4)
  // Our own replies and notifications come back through the subscription. [spec: jobs-device-api#2.1]
  if (rest.length > 0 && REPLY.has(rest[rest.length - 1] ?? '')) return { kind: 'ignored' }
  if (rest.length === 1 && NOTIFY.test(rest[0] ?? '')) return { kind: 'ignored' }
  if (!THING.test(thingName)) return { kind: 'invalid', thingName, topic }
  const request = (
    operation: DeviceOperation,
    extra: { jobId?: string; namespaceId?: string } = {},
  ): DeviceRequestTopic => ({
    kind: 'request',
    operation,
    thingName,
    topic,
    ...extra,
  })
  const [a, b, c] = rest
  if (rest.length === 1 && a === 'get') return request('GetPendingJobExecutions')
  if (rest.length === 1 && a === 'start-next') return request('StartNextPendingJobExecution')
  if (rest.length === 2 && a !== undefined && (b === 'get' || b === 'update')) {
    const ns = NAMESPACE.exec(a)
    if (ns !== null && options.namespacedListTopics && b === 'get')
      return request('GetPendingJobExecutions', { namespaceId: ns[1] ?? '' })
    return jobRequest(a, b, undefined)
  }
  if (rest.length === 2 && a !== undefined && b === 'start-next' && options.namespacedListTopics) {
    const ns = NAMESPACE.exec(a)
    if (ns !== null) return request('StartNextPendingJobExecution', { namespaceId: ns[1] ?? '' })
  }
  if (rest.length === 3 && a !== undefined && b !== undefined && (c === 'get' || c === 'update')) {
    const ns = NAMESPACE.exec(b)
    if (ns !== null) return jobRequest(a, c, ns[1] ?? '')
  }
  return { kind: 'invalid', thingName, topic }

  function jobRequest(jobId: string, verb: 'get' | 'update', namespaceId: string | undefined): ParsedTopic {
    const ns = namespaceId === undefined ? {} : { namespaceId }
    if (verb === 'get' && (jobId === NEXT || JOB_ID.test(jobId)))
      return request('DescribeJobExecution', { jobId, ...ns })
    if (verb === 'update' && JOB_ID.test(jobId)) return request('UpdateJobExecution', { jobId, ...ns })
    return { kind: 'invalid', thingName, topic }
  }
}

/** `…/jobs/notify` or `…/jobs/notify-namespace-{NS}`. [spec: jobs-device-api#4.1, #3] */
export function notifyTopic(thingName: string, namespaceId: string | undefined): string {
  return `$aws/things/${thingName}/jobs/notify${namespaceId === undefined || namespaceId === '' ? '' : `-namespace-${namespaceId}`}`
}

/** `…/jobs/notify-next` or `…/jobs/notify-next-namespace-{NS}`. [spec: jobs-device-api#4.2, #3] */
export function notifyNextTopic(thingName: string, namespaceId: string | undefined): string {
  return `$aws/things/${thingName}/jobs/notify-next${namespaceId === undefined || namespaceId === '' ? '' : `-namespace-${namespaceId}`}`
}

/** The subscription that receives every device request. */
export const REQUEST_FILTER = '$aws/things/+/jobs/#'

/** The topic tree a thing's client may use. [spec: jobs-device-api#6] */
export function thingTopicAllowed(thingName: string, topic: string): boolean {
  return topic === `$aws/things/${thingName}/jobs` || topic.startsWith(`$aws/things/${thingName}/jobs/`)
}
