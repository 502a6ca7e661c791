/**
 * The AWS models (models/iot.json, models/iot-jobs-data.json, verbatim botocore copies) as data:
 * each in-scope operation's method, path, members and their locations, and a validator compiled
 * from the model's types, lengths, ranges, patterns, enums and required members.
 * [ARCHITECTURE: validation from the models] [spec: limits#1-how-to-apply-the-model-patterns]
 */
import { Ajv } from 'ajv'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { readFileSync } from 'node:fs'

export type Plane = 'controlPlane' | 'dataPlane'

interface ShapeRef {
  shape: string
  location?: 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode'
  locationName?: string
}

interface Shape {
  type:
    | 'structure'
    | 'string'
    | 'integer'
    | 'long'
    | 'boolean'
    | 'double'
    | 'float'
    | 'timestamp'
    | 'list'
    | 'map'
    | 'blob'
  members?: Record<string, ShapeRef>
  required?: string[]
  member?: ShapeRef
  key?: ShapeRef
  value?: ShapeRef
  min?: number
  max?: number
  pattern?: string
  enum?: string[]
  error?: { httpStatusCode: number }
  exception?: boolean
}

interface ServiceModel {
  operations: Record<
    string,
    {
      http: { method: string; requestUri: string }
      input?: { shape: string }
      output?: { shape: string }
      errors?: { shape: string }[]
    }
  >
  shapes: Record<string, Shape>
}

export type ScalarType = 'string' | 'integer' | 'long' | 'boolean' | 'double' | 'timestamp'

export interface MemberSpec {
  readonly name: string
  readonly location: 'uri' | 'querystring' | 'header' | 'body'
  /** Name on the wire: the path label, query key, header name or JSON key. */
  readonly wireName: string
  readonly type: Shape['type']
}

export interface OperationSpec {
  readonly name: string
  readonly plane: Plane
  readonly method: string
  /** The model's requestUri, e.g. `/things/{thingName}/jobs/{jobId}`. */
  readonly requestUri: string
  readonly members: readonly MemberSpec[]
  /** True when the operation has no output members: AWS answers `{}`. */
  readonly emptyOutput: boolean
  readonly errors: ReadonlySet<string>
  readonly validate: ValidateFunction
  /**
   * The input (keyed by member name) without what the model does not define: unknown members of every
   * structure, at every level (inside lists and maps too), and `null` members and map entries (absent).
   * A value of another type than its member's is kept as it is, for `validate` to reject naming the
   * field. Only the model's own nesting is visited (a few levels), so no body, however deep, can exhaust
   * the stack here or, once `validate` has passed, anywhere after it. Call it before `validate`.
   * [spec: wire-protocol#2.3]
   */
  readonly dropUnknownMembers: (input: Readonly<Record<string, unknown>>) => Record<string, unknown>
}

/** What `dropUnknownMembers` needs of a shape: a structure's members, a list's member, a map's value. */
type ShapeTree =
  | { readonly kind: 'structure'; readonly members: ReadonlyMap<string, ShapeTree> }
  | { readonly kind: 'list'; readonly member: ShapeTree }
  | { readonly kind: 'map'; readonly value: ShapeTree }
  | { readonly kind: 'scalar' }

const SCALAR: ShapeTree = { kind: 'scalar' }

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * See `OperationSpec.dropUnknownMembers`. Builds new objects only where a level can hold something to
 * drop: a list of scalars (10,000 target ARNs) is kept as it is. A map's `__proto__` key stays an own
 * property (a structure never has one: no member is called that).
 */
function dropUnknown(tree: ShapeTree, value: unknown): unknown {
  switch (tree.kind) {
    case 'structure': {
      if (!isJsonObject(value)) return value
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(value)) {
        const member = tree.members.get(k)
        const v = value[k]
        if (member !== undefined && v !== null) out[k] = member.kind === 'scalar' ? v : dropUnknown(member, v)
      }
      return out
    }
    case 'list':
      if (!Array.isArray(value) || tree.member.kind === 'scalar') return value
      return value.map((v: unknown) => dropUnknown(tree.member, v))
    case 'map': {
      if (!isJsonObject(value)) return value
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(value)) {
        const v = value[k]
        if (v === null) continue
        const kept = dropUnknown(tree.value, v)
        if (k === '__proto__')
          Object.defineProperty(out, k, { value: kept, enumerable: true, writable: true, configurable: true })
        else out[k] = kept
      }
      return out
    }
    case 'scalar':
      return value
  }
}

/**
 * Members the newest SDKs send that the 2022 models lack; accepted and validated like the rest.
 * [spec: newer-in-latest-sdk]
 */
const NEWER_MEMBERS: Record<string, Record<string, { member: ShapeRef; shape?: Shape }>> = {
  CreateJobRequest: {
    destinationPackageVersions: { member: { shape: 'DestinationPackageVersions' } },
  },
  DescribeJobRequest: {
    beforeSubstitution: {
      member: {
        shape: 'BeforeSubstitutionFlag',
        location: 'querystring',
        locationName: 'beforeSubstitution',
      },
    },
  },
  GetJobDocumentRequest: {
    beforeSubstitution: {
      member: {
        shape: 'BeforeSubstitutionFlag',
        location: 'querystring',
        locationName: 'beforeSubstitution',
      },
    },
  },
  SchedulingConfig: { maintenanceWindows: { member: { shape: 'MaintenanceWindows' } } },
  CreateJobTemplateRequest: {
    maintenanceWindows: { member: { shape: 'MaintenanceWindows' } },
    destinationPackageVersions: { member: { shape: 'DestinationPackageVersions' } },
  },
}
const NEWER_SHAPES: Record<string, Shape> = {
  DestinationPackageVersions: { type: 'list', member: { shape: 'PackageVersionArn' }, min: 1 },
  PackageVersionArn: { type: 'string', min: 1, max: 1600, pattern: '^arn:[!-~]+$' },
  BeforeSubstitutionFlag: { type: 'boolean' },
  MaintenanceWindows: { type: 'list', member: { shape: 'MaintenanceWindow' } },
  MaintenanceWindow: {
    type: 'structure',
    required: ['startTime', 'durationInMinutes'],
    members: { startTime: { shape: 'CronExpression' }, durationInMinutes: { shape: 'DurationInMinutes' } },
  },
  CronExpression: { type: 'string', min: 1, max: 256 },
  DurationInMinutes: { type: 'integer', min: 1, max: 1430 },
  // [spec: jobs-device-api#1.1] namespaceId on the data plane, honoured when present [open-question 36].
  NamespaceId: { type: 'string', min: 1, max: 64, pattern: '[a-zA-Z0-9_-]+' },
}
const DATA_PLANE_NAMESPACE = {
  namespaceId: {
    member: { shape: 'NamespaceId', location: 'querystring', locationName: 'namespaceId' } as ShapeRef,
  },
}

/** Extra bounds the models leave out. [spec: limits#2, #3] */
const SHAPE_BOUNDS: Record<string, Partial<Shape>> = {
  ExecutionNumber: { min: 0, max: Number.MAX_SAFE_INTEGER },
  // namespaceId 1..64 per the current API pages
  NamespaceId: { min: 1, max: 64 },
}

/** Java regex → JavaScript (`u` flag), applied to the whole value. [spec: limits#1] */
export function javaPatternToJs(pattern: string): string {
  const js = pattern
    .replaceAll('\\p{Upper}', '\\p{Lu}')
    .replaceAll('\\p{Digit}', '\\p{Nd}')
    .replaceAll('[\\p{Graph}', '[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}')
    .replaceAll('\\p{Graph}', '[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}]')
    .replaceAll('*+', '*')
  return `^(?:${js})$`
}

export interface LoadedModels {
  readonly operations: readonly OperationSpec[]
  /** HTTP status of each error shape named in the models. */
  readonly errorStatus: ReadonlyMap<string, number>
  /** Original (Java) pattern for each compiled JavaScript pattern, for error messages. */
  readonly patternSource: ReadonlyMap<string, string>
}

function readModel(file: string): ServiceModel {
  return JSON.parse(readFileSync(new URL(`../../models/${file}`, import.meta.url), 'utf8')) as ServiceModel
}

/** Builds the validators of the given operations from the models. */
export function loadModels(inScope: {
  controlPlane: readonly string[]
  dataPlane: readonly string[]
}): LoadedModels {
  const ajv = new Ajv({
    allErrors: false,
    strict: false,
    strictNumbers: true,
    unicodeRegExp: true,
    coerceTypes: false,
  })
  const patternSource = new Map<string, string>()
  const errorStatus = new Map<string, number>()
  const operations: OperationSpec[] = []
  for (const [plane, file, names] of [
    ['controlPlane', 'iot.json', inScope.controlPlane],
    ['dataPlane', 'iot-jobs-data.json', inScope.dataPlane],
  ] as const) {
    const model = readModel(file)
    const shapes: Record<string, Shape> = { ...model.shapes, ...NEWER_SHAPES }
    for (const [name, bounds] of Object.entries(SHAPE_BOUNDS)) {
      const shape = shapes[name]
      if (shape !== undefined) shapes[name] = { ...shape, ...bounds }
    }
    for (const [shapeName, shape] of Object.entries(shapes)) {
      if (
        shape.exception === true &&
        shape.error !== undefined &&
        !errorStatus.has(`${plane}:${shapeName}`)
      ) {
        errorStatus.set(`${plane}:${shapeName}`, shape.error.httpStatusCode)
      }
    }
    const structureMembers = (shapeName: string, shape: Shape): Record<string, ShapeRef> => {
      const extra = Object.fromEntries(
        Object.entries(NEWER_MEMBERS[shapeName] ?? {}).map(([k, v]) => [k, v.member]),
      )
      return { ...(shape.members ?? {}), ...extra }
    }
    const treeOf = (shapeName: string, depth: number): ShapeTree => {
      const shape = shapes[shapeName]
      if (shape === undefined) throw new Error(`shape ${shapeName} missing from ${file}`)
      if (depth > 20) throw new Error(`shape ${shapeName} nests too deep`)
      switch (shape.type) {
        case 'structure':
          return {
            kind: 'structure',
            members: new Map(
              Object.entries(structureMembers(shapeName, shape)).map(([k, ref]) => [
                k,
                treeOf(ref.shape, depth + 1),
              ]),
            ),
          }
        case 'list':
          return { kind: 'list', member: treeOf(shape.member?.shape ?? '', depth + 1) }
        case 'map':
          return { kind: 'map', value: treeOf(shape.value?.shape ?? '', depth + 1) }
        default:
          return SCALAR
      }
    }
    const schemaOf = (shapeName: string, depth: number): object => {
      const shape = shapes[shapeName]
      if (shape === undefined) throw new Error(`shape ${shapeName} missing from ${file}`)
      if (depth > 20) throw new Error(`shape ${shapeName} nests too deep`)
      switch (shape.type) {
        case 'structure': {
          const members = structureMembers(shapeName, shape)
          return {
            type: 'object',
            properties: Object.fromEntries(
              Object.entries(members).map(([k, ref]) => [k, schemaOf(ref.shape, depth + 1)]),
            ),
            required: shape.required ?? [],
          }
        }
        case 'string': {
          const s: Record<string, unknown> = { type: 'string' }
          if (shape.enum !== undefined) s['enum'] = shape.enum
          if (shape.min !== undefined) s['minLength'] = shape.min
          if (shape.max !== undefined) s['maxLength'] = shape.max
          if (shape.pattern !== undefined) {
            const js = javaPatternToJs(shape.pattern)
            patternSource.set(js, shape.pattern)
            s['pattern'] = js
          }
          return s
        }
        case 'integer':
          return bounded({ type: 'integer', minimum: -(2 ** 31), maximum: 2 ** 31 - 1 }, shape)
        case 'long':
          // A JSON number past ±2^63 is no Java long; AWS rejects it as a serialization error.
          return bounded({ type: 'integer', minimum: -(2 ** 63), maximum: 2 ** 63 }, shape)
        case 'double':
        case 'float':
          return bounded({ type: 'number' }, shape)
        case 'timestamp':
          return { type: 'number' }
        case 'boolean':
          return { type: 'boolean' }
        case 'blob':
          return { type: 'string' }
        case 'list': {
          const s: Record<string, unknown> = {
            type: 'array',
            items: schemaOf(shape.member?.shape ?? '', depth + 1),
          }
          if (shape.min !== undefined) s['minItems'] = shape.min
          if (shape.max !== undefined) s['maxItems'] = shape.max
          return s
        }
        case 'map': {
          const s: Record<string, unknown> = {
            type: 'object',
            propertyNames: schemaOf(shape.key?.shape ?? '', depth + 1),
            additionalProperties: schemaOf(shape.value?.shape ?? '', depth + 1),
          }
          if (shape.min !== undefined) s['minProperties'] = shape.min
          if (shape.max !== undefined) s['maxProperties'] = shape.max
          return s
        }
      }
    }
    for (const name of names) {
      const op = model.operations[name]
      if (op === undefined) throw new Error(`operation ${name} missing from ${file}`)
      const inputName = op.input?.shape
      const inputShape = inputName === undefined ? undefined : shapes[inputName]
      const refs: Record<string, ShapeRef> =
        inputShape === undefined || inputName === undefined
          ? {}
          : {
              ...structureMembers(inputName, inputShape),
              ...(plane === 'dataPlane' ? { namespaceId: DATA_PLANE_NAMESPACE.namespaceId.member } : {}),
            }
      const members: MemberSpec[] = Object.entries(refs).map(([memberName, ref]) => ({
        name: memberName,
        location:
          ref.location === 'uri' || ref.location === 'querystring' || ref.location === 'header'
            ? ref.location
            : 'body',
        wireName: ref.locationName ?? memberName,
        type: shapes[ref.shape]?.type ?? 'string',
      }))
      // Path labels first (in path order), then query, then body: the first failing member is reported.
      const labelOrder = [...op.http.requestUri.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1])
      members.sort((a, b) => rank(a, labelOrder) - rank(b, labelOrder))
      const schema = {
        type: 'object',
        properties: Object.fromEntries(members.map((m) => [m.name, schemaOf(refs[m.name]?.shape ?? '', 1)])),
        required: inputShape?.required ?? [],
      }
      const outputShape = op.output === undefined ? undefined : shapes[op.output.shape]
      const inputTree: ShapeTree = {
        kind: 'structure',
        members: new Map(members.map((m) => [m.name, treeOf(refs[m.name]?.shape ?? '', 1)])),
      }
      operations.push({
        name,
        plane,
        method: op.http.method,
        requestUri: op.http.requestUri,
        members,
        emptyOutput: outputShape === undefined || Object.keys(outputShape.members ?? {}).length === 0,
        errors: new Set((op.errors ?? []).map((e) => e.shape)),
        validate: ajv.compile(schema),
        dropUnknownMembers: (input) => dropUnknown(inputTree, input) as Record<string, unknown>,
      })
    }
  }
  return { operations, errorStatus, patternSource }
}

function rank(m: MemberSpec, labelOrder: readonly (string | undefined)[]): number {
  if (m.location === 'uri') return labelOrder.indexOf(m.wireName)
  return m.location === 'querystring' ? 100 : m.location === 'header' ? 150 : 200
}

function bounded(s: Record<string, unknown>, shape: Shape): object {
  if (shape.min !== undefined) s['minimum'] = shape.min
  if (shape.max !== undefined) s['maximum'] = shape.max
  return s
}

/** A message naming the field, from the first validation error. */
export function describeValidationError(
  error: ErrorObject,
  patternSource: ReadonlyMap<string, string>,
): string {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce(
      (acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc === '' ? part : `${acc}.${part}`),
      '',
    )
  const p = error.params as Record<string, unknown>
  // A map key that fails its own rules is reported on the map, with the key named.
  if (error.propertyName !== undefined) {
    const { propertyName: _key, ...onMap } = error
    return describeValidationError(onMap, patternSource).replace(
      /^(\S*)/,
      (field) => `${field === '' ? 'request' : field} key ${JSON.stringify(error.propertyName)}`,
    )
  }
  const at = (name: string) => (path === '' ? name : `${path}.${name}`)
  switch (error.keyword) {
    case 'required':
      return `${at(String(p['missingProperty']))} is required`
    case 'pattern':
      return `${path} does not match ${patternSource.get(String(p['pattern'])) ?? String(p['pattern'])}`
    case 'minLength':
      return `${path} must be at least ${plural(p['limit'], 'character')} long`
    case 'maxLength':
      return `${path} must be at most ${plural(p['limit'], 'character')} long`
    case 'minimum':
      return `${path} must be at least ${String(p['limit'])}`
    case 'maximum':
      return `${path} must be at most ${String(p['limit'])}`
    case 'minItems':
      return `${path} must have at least ${plural(p['limit'], 'item')}`
    case 'maxItems':
      return `${path} must have at most ${plural(p['limit'], 'item')}`
    case 'minProperties':
      return `${path} must have at least ${plural(p['limit'], 'entry', 'entries')}`
    case 'maxProperties':
      return `${path} must have at most ${plural(p['limit'], 'entry', 'entries')}`
    case 'enum':
      return `${path} must be one of ${(p['allowedValues'] as unknown[]).join(', ')}`
    case 'type':
      return `${path} must be of type ${String(p['type'])}`
    case 'propertyNames':
      return `${path} has an invalid key ${JSON.stringify(p['propertyName'])}`
    default:
      return `${path === '' ? 'request' : path} is invalid (${error.message ?? error.keyword})`
  }
}

function plural(n: unknown, one: string, many = `${one}s`): string {
  return `${String(n)} ${n === 1 ? one : many}`
}
