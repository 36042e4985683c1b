// The roles the server knows, as the users, roles and tokens pages read them: the built-in
// ones by name, the custom ones with their permission matrix.

import { useLoad } from "../../api/load";
import { useSession } from "../../session";

export interface RoleList {
  built_in: string[];
  custom: CustomRole[];
}

export interface CustomRole {
  name: string;
  description: string;
  permissions: Record<string, string[]>;
  own_entries_only: boolean;
  hidden_fields: Record<string, string[]>;
  read_only_fields: Record<string, string[]>;
}

export function useRoles() {
  const { client } = useSession();
  return useLoad(() => client.get<{ data: RoleList }>("/roles").then((r) => r.data), [client]);
}

/** Every role a user or token may be given, the built-in ones first. */
export function roleNames(roles: RoleList | undefined): string[] {
  return [...(roles?.built_in ?? []), ...(roles?.custom ?? []).map((r) => r.name)];
}
