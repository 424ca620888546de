import { revokeUserApiTokens } from "../api-tokens/repo";
import type { Database } from "../db/client";
import { revokeUserSessions } from "./session-repo";

/**
 * Ends everything a user signs in with: sessions (with their refresh tokens) and API
 * tokens. A reset or disabling must leave no way in that the old password gave.
 */
export function endCredentials(db: Database, accountId: string, userId: string, now: number) {
  return [
    revokeUserSessions(db, accountId, userId, now),
    revokeUserApiTokens(db, accountId, userId, now),
  ];
}
