/** The typed errors every backend raises the same way. */
import { TenureError } from '../errors.js';
import type { LeaseId } from './types.js';

/** The error every call on a closed store fails with. */
export function closedError(what = 'store'): TenureError {
  return new TenureError('TENURE_CLOSED', `the ${what} is closed; open a new one`);
}

/** The compacted error, with the facts a consumer needs to re-read and watch again. */
export function compactedError(requested: number, compactRevision: number): TenureError {
  return new TenureError(
    'TENURE_COMPACTED',
    `revision ${requested} was compacted (history kept after revision ${compactRevision}); re-read the keys and watch from the revision of that read`,
    { details: { requestedRevision: requested, compactRevision } },
  );
}

/** The typed error for a dead lease. */
export function leaseNotFound(id: LeaseId): TenureError {
  return new TenureError('TENURE_LEASE_NOT_FOUND', `lease ${id} does not exist: it expired or was revoked`, {
    details: { lease: id },
  });
}
