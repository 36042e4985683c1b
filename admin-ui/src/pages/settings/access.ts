// The roles the server knows, as the users, roles and tokens pages read them: the built-in
// ones by name, the custom ones with their permission matrix.

import type { CustomRole, RoleList } from "../../api/client";
import { useLoad } from "../../api/load";
import { useSession } from "../../session";

export type { CustomRole, RoleList };

export function useRoles() {
  const { client } = useSession();
  return useLoad(() => client.get<{ data: RoleList }>("/roles").then((r) => r.data), [client]);
}

/** Every role a user or token may be given, the built-in ones first. */
export function roleNames(roles: RoleList | undefined): string[] {
  return [...(roles?.built_in ?? []), ...(roles?.custom ?? []).map((r) => r.name)];
}
