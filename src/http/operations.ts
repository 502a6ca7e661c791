/**
 * One route per AWS operation: the model gives method, path and input validation; this table gives
 * the use case and the response body. Operation names are AWS's, so spec → code is one grep.
 */
import * as certificates from '../app/certificates.js'
import * as device from '../app/device.js'
import * as executions from '../app/executions.js'
import * as lifecycle from '../app/job-lifecycle.js'
import * as jobs from '../app/jobs.js'
import * as templates from '../app/templates.js'
import * as groups from '../app/thing-groups.js'
import * as things from '../app/things.js'
import type { AppContext } from '../app/context.js'
import { thingArn } from '../domain/arns.js'
import * as present from './presenters.js'

/** The validated input: model member names → decoded values. */
export type Input = Record<string, unknown>

export interface OperationHandler {
  readonly run: (ctx: AppContext, input: Input) => Promise<object>
  /** The id of the affected resource, for the seed envelope's `{id, created_at}` on empty AWS bodies. */
  readonly resourceId?: (input: Input) => string
}

// The validator has checked every member against the model before a handler runs, so the casts
// below only restate the model's types.
/* eslint-disable @typescript-eslint/no-explicit-any */
const as = <T>(input: Input): T => input as any as T
/* eslint-enable @typescript-eslint/no-explicit-any */

const executionId = (input: Input): string =>
  `${String(input['jobId'])}/${String(input['thingName'])}/${typeof input['executionNumber'] === 'number' ? input['executionNumber'] : 'latest'}`

const membershipId = (input: Input): string =>
  `${String(input['thingGroupName'] ?? input['thingGroupArn'])}/${String(input['thingName'] ?? input['thingArn'])}`

export const CONTROL_PLANE: Record<string, OperationHandler> = {
  CreateThing: { run: (ctx, input) => things.createThing(ctx, as(input)) },
  DescribeThing: {
    run: async (ctx, input) =>
      present.thingDescription(ctx.scope, await things.describeThing(ctx, as(input))),
  },
  ListThings: {
    run: async (ctx, input) => {
      const r = await things.listThings(ctx, as(input))
      return { things: r.things.map((t) => present.thingAttribute(ctx.scope, t)), ...opt(r.nextToken) }
    },
  },
  UpdateThing: {
    run: async (ctx, input) => (await things.updateThing(ctx, as(input)), {}),
    resourceId: (input) => String(input['thingName']),
  },
  DeleteThing: {
    run: async (ctx, input) => (await things.deleteThing(ctx, as(input)), {}),
    resourceId: (input) => String(input['thingName']),
  },
  CreateThingGroup: { run: (ctx, input) => groups.createThingGroup(ctx, as(input)) },
  DescribeThingGroup: {
    run: async (ctx, input) => {
      const { group, ancestors } = await groups.describeThingGroup(ctx, as(input))
      return present.thingGroupDescription(ctx.scope, group, ancestors)
    },
  },
  UpdateThingGroup: { run: (ctx, input) => groups.updateThingGroup(ctx, as(input)) },
  DeleteThingGroup: {
    run: async (ctx, input) => (await groups.deleteThingGroup(ctx, as(input)), {}),
    resourceId: (input) => String(input['thingGroupName']),
  },
  ListThingGroups: {
    run: async (ctx, input) => {
      const r = await groups.listThingGroups(ctx, as(input))
      return { thingGroups: r.groups.map((g) => present.groupNameAndArn(ctx.scope, g)), ...opt(r.nextToken) }
    },
  },
  AddThingToThingGroup: {
    run: async (ctx, input) => (await groups.addThingToThingGroup(ctx, as(input)), {}),
    resourceId: membershipId,
  },
  RemoveThingFromThingGroup: {
    run: async (ctx, input) => (await groups.removeThingFromThingGroup(ctx, as(input)), {}),
    resourceId: membershipId,
  },
  UpdateThingGroupsForThing: {
    run: async (ctx, input) => (await groups.updateThingGroupsForThing(ctx, as(input)), {}),
    resourceId: (input) => String(input['thingName']),
  },
  ListThingsInThingGroup: { run: (ctx, input) => groups.listThingsInThingGroup(ctx, as(input)) },
  ListThingGroupsForThing: {
    run: async (ctx, input) => {
      const r = await groups.listThingGroupsForThing(ctx, as(input))
      return { thingGroups: r.groups.map((g) => present.groupNameAndArn(ctx.scope, g)), ...opt(r.nextToken) }
    },
  },
  CreateJob: { run: (ctx, input) => jobs.createJob(ctx, as(input)) },
  DescribeJob: {
    run: async (ctx, input) => {
      const job = await jobs.describeJob(ctx, as(input))
      return {
        ...(job.documentSource === undefined ? {} : { documentSource: job.documentSource }),
        job: present.jobShape(ctx.scope, job, ctx.clock.nowMs()),
      }
    },
  },
  ListJobs: {
    run: async (ctx, input) => {
      const r = await jobs.listJobs(ctx, as(input))
      return {
        jobs: r.jobs.map((j) => present.jobSummary(ctx.scope, j.job, j.thingGroupId)),
        ...opt(r.nextToken),
      }
    },
  },
  GetJobDocument: { run: (ctx, input) => jobs.getJobDocument(ctx, as(input)) },
  UpdateJob: {
    run: async (ctx, input) => (await lifecycle.updateJob(ctx, as(input)), {}),
    resourceId: (input) => String(input['jobId']),
  },
  CancelJob: { run: (ctx, input) => lifecycle.cancelJob(ctx, as(input)) },
  AssociateTargetsWithJob: { run: (ctx, input) => lifecycle.associateTargetsWithJob(ctx, as(input)) },
  DeleteJob: {
    run: async (ctx, input) => (await lifecycle.deleteJob(ctx, as(input)), {}),
    resourceId: (input) => String(input['jobId']),
  },
  CreateJobTemplate: { run: (ctx, input) => templates.createJobTemplate(ctx, as(input)) },
  DescribeJobTemplate: {
    run: async (ctx, input) =>
      present.jobTemplate(ctx.scope, await templates.describeJobTemplate(ctx, as(input))),
  },
  ListJobTemplates: {
    run: async (ctx, input) => {
      const r = await templates.listJobTemplates(ctx, as(input))
      return {
        jobTemplates: r.templates.map((t) => present.jobTemplateSummary(ctx.scope, t)),
        ...opt(r.nextToken),
      }
    },
  },
  DeleteJobTemplate: {
    run: async (ctx, input) => (await templates.deleteJobTemplate(ctx, as(input)), {}),
    resourceId: (input) => String(input['jobTemplateId']),
  },
  CancelJobExecution: {
    run: async (ctx, input) => (await executions.cancelJobExecution(ctx, as(input)), {}),
    resourceId: executionId,
  },
  DeleteJobExecution: {
    run: async (ctx, input) => (await executions.deleteJobExecution(ctx, as(input)), {}),
    resourceId: executionId,
  },
  DescribeJobExecution: {
    run: async (ctx, input) => {
      const { execution } = await executions.describeJobExecution(ctx, as(input))
      return { execution: present.cpExecution(ctx.scope, execution, ctx.clock.nowMs()) }
    },
  },
  ListJobExecutionsForJob: {
    run: async (ctx, input) => {
      const r = await executions.listJobExecutionsForJob(ctx, as(input))
      return {
        executionSummaries: r.executions.map((e) => ({
          thingArn: thingArn(ctx.scope, e.thingName),
          jobExecutionSummary: present.cpExecutionSummary(e),
        })),
        ...opt(r.nextToken),
      }
    },
  },
  ListJobExecutionsForThing: {
    run: async (ctx, input) => {
      const r = await executions.listJobExecutionsForThing(ctx, as(input))
      return {
        executionSummaries: r.executions.map((e) => ({
          jobId: e.jobId,
          jobExecutionSummary: present.cpExecutionSummary(e),
        })),
        ...opt(r.nextToken),
      }
    },
  },
  // ---- the certificate registry [aws: iot certificates] ----
  CreateKeysAndCertificate: { run: (ctx, input) => certificates.createKeysAndCertificate(ctx, as(input)) },
  RegisterCertificate: { run: (ctx, input) => certificates.registerCertificate(ctx, as(input)) },
  RegisterCertificateWithoutCA: {
    run: (ctx, input) => certificates.registerCertificateWithoutCA(ctx, as(input)),
  },
  DescribeCertificate: {
    run: async (ctx, input) => ({
      certificateDescription: present.certificateDescription(
        ctx.scope,
        await certificates.describeCertificate(ctx, as(input)),
      ),
    }),
  },
  ListCertificates: {
    run: async (ctx, input) => {
      const r = await certificates.listCertificates(ctx, as(input))
      return {
        certificates: r.certificates.map((c) => present.certificateSummary(ctx.scope, c)),
        ...optMarker(r.nextMarker),
      }
    },
  },
  ListCertificatesByCA: {
    run: async (ctx, input) => {
      const r = await certificates.listCertificatesByCA(ctx, as(input))
      return {
        certificates: r.certificates.map((c) => present.certificateSummary(ctx.scope, c)),
        ...optMarker(r.nextMarker),
      }
    },
  },
  UpdateCertificate: {
    run: async (ctx, input) => (await certificates.updateCertificate(ctx, as(input)), {}),
    resourceId: (input) => String(input['certificateId']),
  },
  DeleteCertificate: {
    run: async (ctx, input) => (await certificates.deleteCertificate(ctx, as(input)), {}),
    resourceId: (input) => String(input['certificateId']),
  },
  RegisterCACertificate: { run: (ctx, input) => certificates.registerCACertificate(ctx, as(input)) },
  DescribeCACertificate: {
    run: async (ctx, input) => {
      const ca = await certificates.describeCACertificate(ctx, as(input))
      return {
        certificateDescription: present.caCertificateDescription(ctx.scope, ca),
        ...(ca.registrationConfig === undefined ? {} : { registrationConfig: ca.registrationConfig }),
      }
    },
  },
  ListCACertificates: {
    run: async (ctx, input) => {
      const r = await certificates.listCACertificates(ctx, as(input))
      return {
        certificates: r.certificates.map((c) => present.caCertificateSummary(ctx.scope, c)),
        ...optMarker(r.nextMarker),
      }
    },
  },
  UpdateCACertificate: {
    run: async (ctx, input) => (await certificates.updateCACertificate(ctx, as(input)), {}),
    resourceId: (input) => String(input['certificateId']),
  },
  DeleteCACertificate: {
    run: async (ctx, input) => (await certificates.deleteCACertificate(ctx, as(input)), {}),
    resourceId: (input) => String(input['certificateId']),
  },
  AttachThingPrincipal: {
    run: async (ctx, input) => (await certificates.attachThingPrincipal(ctx, as(input)), {}),
    resourceId: (input) => `${String(input['thingName'])}/${String(input['principal'])}`,
  },
  DetachThingPrincipal: {
    run: async (ctx, input) => (await certificates.detachThingPrincipal(ctx, as(input)), {}),
    resourceId: (input) => `${String(input['thingName'])}/${String(input['principal'])}`,
  },
  ListThingPrincipals: { run: (ctx, input) => certificates.listThingPrincipals(ctx, as(input)) },
  ListPrincipalThings: { run: (ctx, input) => certificates.listPrincipalThings(ctx, as(input)) },
}

export const DATA_PLANE: Record<string, OperationHandler> = {
  GetPendingJobExecutions: {
    run: async (ctx, input) => {
      const r = await device.getPendingJobExecutions(ctx, as(input))
      return {
        inProgressJobs: r.inProgress.map((p) => present.dpExecutionSummary(p.execution)),
        queuedJobs: r.queued.map((p) => present.dpExecutionSummary(p.execution)),
      }
    },
  },
  StartNextPendingJobExecution: {
    run: async (ctx, input) => {
      const r = await device.startNextPendingJobExecution(ctx, as(input))
      return r === undefined
        ? {}
        : { execution: present.dpExecution(r.execution, ctx.clock.nowMs(), r.job.document) }
    },
  },
  DescribeJobExecution: {
    run: async (ctx, input) => {
      const r = await device.describeJobExecutionForDevice(ctx, as(input))
      if (r === undefined) return {}
      // [spec: jobs-device-api#1.4] includeJobDocument defaults to true.
      const withDocument = input['includeJobDocument'] !== false
      return {
        execution: present.dpExecution(
          r.execution,
          ctx.clock.nowMs(),
          withDocument ? r.job.document : undefined,
        ),
      }
    },
  },
  UpdateJobExecution: {
    run: async (ctx, input) => {
      const r = await device.updateJobExecution(ctx, as(input))
      return {
        ...(input['includeJobExecutionState'] === true
          ? { executionState: present.executionState(r.execution) }
          : {}),
        ...(input['includeJobDocument'] === true ? { jobDocument: r.job.document } : {}),
      }
    },
  },
}

function opt(nextToken: string | undefined): { nextToken?: string } {
  return nextToken === undefined ? {} : { nextToken }
}

function optMarker(nextMarker: string | undefined): { nextMarker?: string } {
  return nextMarker === undefined ? {} : { nextMarker }
}
