/**
 * Job templates and `${aws:iot:parameter:NAME}` substitution. [spec: jobs-control-plane#5]
 */
import { checkDocument } from './job-config.js'
import { invalidRequest } from './errors.js'
import type { JobConfigurations, JsonObject } from './records.js'

export interface JobTemplate extends JobConfigurations {
  readonly jobTemplateId: string
  readonly description: string
  readonly document?: string
  readonly documentSource?: string
  readonly maintenanceWindows?: readonly JsonObject[]
  readonly destinationPackageVersions?: readonly string[]
  readonly tags?: readonly JsonObject[]
  readonly createdAtMs: number
}

const PLACEHOLDER = /\$\{aws:iot:parameter:([a-zA-Z0-9_-]{1,128})\}/g

/** Names of the parameters a document asks for, each once, in order of first use. */
export function placeholders(document: string): string[] {
  return [...new Set([...document.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ''))]
}

/**
 * Substitutes every placeholder with its value escaped as JSON string content. Missing values and
 * values no placeholder uses [open-question 33] are InvalidRequestException; so is a result that is
 * not a JSON object or is too long.
 */
export function substituteParameters(document: string, parameters: Readonly<Record<string, string>>): string {
  const wanted = placeholders(document)
  const missing = wanted.filter((name) => parameters[name] === undefined)
  if (missing.length > 0) throw invalidRequest(`documentParameters lacks a value for ${missing.join(', ')}`)
  const extra = Object.keys(parameters).filter((name) => !wanted.includes(name))
  if (extra.length > 0)
    throw invalidRequest(`documentParameters ${extra.join(', ')} matches no placeholder of the document`)
  const result = document.replace(PLACEHOLDER, (_, name: string) =>
    JSON.stringify(parameters[name] ?? '').slice(1, -1),
  )
  checkDocument(result, 'the document after substitution of documentParameters')
  return result
}
