/** ARNs of this service's resources. [spec: things#1-data-model] [spec: jobs-control-plane#1] */
export interface ArnScope {
  readonly region: string
  readonly accountId: string
}

export const thingArn = (s: ArnScope, thingName: string): string =>
  `arn:aws:iot:${s.region}:${s.accountId}:thing/${thingName}`
export const thingGroupArn = (s: ArnScope, groupName: string): string =>
  `arn:aws:iot:${s.region}:${s.accountId}:thinggroup/${groupName}`
export const jobArn = (s: ArnScope, jobId: string): string =>
  `arn:aws:iot:${s.region}:${s.accountId}:job/${jobId}`
export const jobTemplateArn = (s: ArnScope, templateId: string): string =>
  `arn:aws:iot:${s.region}:${s.accountId}:jobtemplate/${templateId}`

export type TargetArn =
  | { readonly kind: 'thing'; readonly thingName: string }
  | { readonly kind: 'thinggroup'; readonly thingGroupName: string }

const NAME = /^[a-zA-Z0-9:_-]{1,128}$/

/** Parses a job target; undefined when it is not a thing or thing-group ARN of this region and account. */
export function parseTargetArn(s: ArnScope, arn: string): TargetArn | undefined {
  const prefix = `arn:aws:iot:${s.region}:${s.accountId}:`
  if (!arn.startsWith(prefix)) return undefined
  const rest = arn.slice(prefix.length)
  const slash = rest.indexOf('/')
  if (slash < 0) return undefined
  const kind = rest.slice(0, slash)
  const name = rest.slice(slash + 1)
  if (!NAME.test(name)) return undefined
  if (kind === 'thing') return { kind: 'thing', thingName: name }
  if (kind === 'thinggroup') return { kind: 'thinggroup', thingGroupName: name }
  return undefined
}
