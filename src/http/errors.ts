/**
 * ServiceError → HTTP status, `x-amzn-ErrorType` and `{"message": …}`; statuses come from the models'
 * error shapes. [spec: wire-protocol#5-errors]
 */
import type { ErrorCode } from '../domain/errors.js'
import type { Plane } from '../aws-model/model.js'

/** Errors the models do not define, with the statuses this service gives them. [spec: wire-protocol#5.5, #7] */
const UNMODELED_STATUS: Partial<Record<ErrorCode, number>> = {
  UnknownOperationException: 404,
  AccessDeniedException: 403,
  // SigV4 refusals, as AWS's front door answers them (not in the service models). [spec: wire-protocol#7]
  MissingAuthenticationTokenException: 403,
  UnrecognizedClientException: 403,
  InvalidSignatureException: 403,
  // A body over the limit (src/http/server.ts MAX_BODY_BYTES), as AWS's front door answers it.
  RequestEntityTooLargeException: 413,
}

export function errorStatus(modelStatus: ReadonlyMap<string, number>, plane: Plane, code: ErrorCode): number {
  return (
    modelStatus.get(`${plane}:${code}`) ??
    UNMODELED_STATUS[code] ??
    modelStatus.get(`controlPlane:${code}`) ??
    400
  )
}

/** The seed envelope's UPPER_SNAKE codes. [issue: seed envelope] documented in docs/envelope.md */
export const ENVELOPE_CODES: Record<ErrorCode, string> = {
  InvalidRequestException: 'VALIDATION_ERROR',
  ResourceNotFoundException: 'NOT_FOUND',
  InvalidStateTransitionException: 'INVALID_STATE_TRANSITION',
  VersionConflictException: 'VERSION_CONFLICT',
  ConflictException: 'CONFLICT',
  ResourceAlreadyExistsException: 'ALREADY_EXISTS',
  LimitExceededException: 'LIMIT_EXCEEDED',
  ThrottlingException: 'THROTTLED',
  ServiceUnavailableException: 'SERVICE_UNAVAILABLE',
  InternalFailureException: 'INTERNAL_ERROR',
  TerminalStateException: 'INVALID_STATE_TRANSITION',
  UnauthorizedException: 'UNAUTHORIZED',
  AccessDeniedException: 'ACCESS_DENIED',
  MissingAuthenticationTokenException: 'UNAUTHORIZED',
  UnrecognizedClientException: 'UNAUTHORIZED',
  InvalidSignatureException: 'UNAUTHORIZED',
  UnknownOperationException: 'UNKNOWN_OPERATION',
  RequestEntityTooLargeException: 'PAYLOAD_TOO_LARGE',
  CertificateStateException: 'INVALID_STATE_TRANSITION',
  CertificateValidationException: 'VALIDATION_ERROR',
  CertificateConflictException: 'CONFLICT',
  DeleteConflictException: 'CONFLICT',
  RegistrationCodeValidationException: 'VALIDATION_ERROR',
}
