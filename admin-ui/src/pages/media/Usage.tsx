// "Used by": the entries that use an item, by title where the reader may read their type,
// each with whether it is published.

import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import type { AdminEntry, ContentTypeSummary, EntryPage, MediaUse } from "../../api/client";
import { entryTitle } from "../../form/RelationPicker";
import { useSession } from "../../session";

/** `usage` is null while it loads; following a link calls `onFollow` (to close the dialog). */
export function Usage({
  usage,
  types,
  onFollow,
}: {
  usage: MediaUse[] | null;
  types: ContentTypeSummary[];
  onFollow: () => void;
}) {
  const titles = useTitles(usage, types);
  return (
    <>
      <h3>Used by</h3>
      {usage === null ? <p className="muted">Loading…</p> : null}
      {usage?.length === 0 ? <p className="muted">No entry uses this file.</p> : null}
      {usage?.length ? (
        <ul className="usage">
          {usage.map((u) => (
            <li key={`${u.type}/${u.id}`}>
              <Link to={`/content/${u.type}/${u.id}`} onClick={onFollow}>
                {titles[`${u.type}/${u.id}`] ?? u.id}
              </Link>{" "}
              <span className="muted">{types.find((t) => t.id === u.type)?.name ?? u.type}</span>{" "}
              {u.published ? (
                <span className="status status-published">published</span>
              ) : (
                <span className="status">draft</span>
              )}
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

/** The using entries' titles by `type/id`: one request per type, each merged in as it comes. */
function useTitles(usage: MediaUse[] | null, types: ContentTypeSummary[]): Record<string, string> {
  const { client } = useSession();
  const [titles, setTitles] = useState<Record<string, string>>({});
  useEffect(() => {
    if (!usage?.length) return;
    const byType = new Map<string, string[]>();
    for (const u of usage) byType.set(u.type, [...(byType.get(u.type) ?? []), u.id]);
    for (const [type, ids] of byType) {
      const t = types.find((x) => x.id === type);
      if (!t?.permissions.actions.includes("read")) continue;
      client
        .get<EntryPage>(
          `/content/${encodeURIComponent(type)}?filter[id][in]=${encodeURIComponent(ids.join(","))}&limit=100`,
        )
        .then((page) =>
          setTitles((m) => ({
            ...m,
            ...Object.fromEntries(page.data.map((e: AdminEntry) => [`${type}/${e.id}`, entryTitle(e, t, e.id)])),
          })),
        )
        .catch(() => undefined);
    }
  }, [client, usage, types]);
  return titles;
}
