/** SQL both stores use for a thing's pending executions, over `job_executions e JOIN jobs j`. */

/** Pending order: IN_PROGRESS first, then QUEUED, each by creation. [spec: jobs-device-api#1.1] */
export const PENDING_ORDER = `CASE e.status WHEN 'IN_PROGRESS' THEN 0 ELSE 1 END, e.queued_at, e.seq`

/** Devices see no execution of a job that is scheduled or being deleted. */
export const DEVICE_VISIBLE_JOB = `j.status NOT IN ('SCHEDULED', 'DELETION_IN_PROGRESS')`
