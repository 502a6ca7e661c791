/**
 * Every error fleetjobs answers with is one of AWS's error shapes, by name. The HTTP status of each
 * comes from the AWS models (see src/http/errors.ts); the domain only names the error.
 * [spec: wire-protocol#5-errors]
 */
export type ErrorCode =
  | 'InvalidRequestException'
  | 'ResourceNotFoundException'
  | 'ResourceAlreadyExistsException'
  | 'ConflictException'
  | 'VersionConflictException'
  | 'InvalidStateTransitionException'
  | 'LimitExceededException'
  | 'ThrottlingException'
  | 'TerminalStateException'
  | 'UnauthorizedException'
  | 'AccessDeniedException'
  | 'MissingAuthenticationTokenException'
  | 'UnrecognizedClientException'
  | 'InvalidSignatureException'
  | 'InternalFailureException'
  | 'ServiceUnavailableException'
  | 'UnknownOperationException'
  | 'RequestEntityTooLargeException'
  // The certificate registry's own errors. [aws: iot certificates]
  | 'CertificateStateException'
  | 'CertificateValidationException'
  | 'CertificateConflictException'
  | 'DeleteConflictException'
  | 'RegistrationCodeValidationException'

export class ServiceError extends Error {
  override readonly name = 'ServiceError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra members of the error shape, e.g. `resourceId`/`resourceArn` of ResourceAlreadyExistsException. */
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message)
  }
}

export const invalidRequest = (message: string): ServiceError =>
  new ServiceError('InvalidRequestException', message)
export const notFound = (message: string): ServiceError =>
  new ServiceError('ResourceNotFoundException', message)
export const invalidTransition = (message: string): ServiceError =>
  new ServiceError('InvalidStateTransitionException', message)
