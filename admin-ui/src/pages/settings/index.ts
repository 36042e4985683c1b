// Administration, for admins: users (invite, role, disable), roles and their permission
// matrix, API tokens (the secret shown once), and the audit log with filters. The app loads
// the pages through this module so that they stay one chunk, fetched only when an admin
// opens one of them.

export { Audit } from "./Audit";
export { Roles } from "./Roles";
export { Tokens } from "./Tokens";
export { Users } from "./Users";
