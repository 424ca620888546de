/** How long a login session lives: 30 days at most, and a week without use. */
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;
export const SESSION_IDLE_MS = 7 * 24 * 60 * 60 * 1000;

interface SessionTimes {
  expiresAt: number;
  lastUsedAt: number;
  revokedAt: number | null;
}

/** Whether the session may still be used at `now`. */
export function sessionLive(session: SessionTimes, now: number): boolean {
  return (
    session.revokedAt === null &&
    session.expiresAt > now &&
    session.lastUsedAt + SESSION_IDLE_MS > now
  );
}
