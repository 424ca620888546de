import type { AccountSettings } from "../db/schema";

/** Invitation links last seven days unless the account says otherwise. */
export const DEFAULT_SETTINGS: AccountSettings = { invitation_ttl_hours: 168 };
