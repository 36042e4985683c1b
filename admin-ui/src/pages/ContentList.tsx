import { useEffect, useState } from "react";
import { Link, useOutletContext, useParams, useSearchParams } from "react-router-dom";
import type { ContentTypeSummary, EntryPage } from "../api/client";
import { useSession } from "../session";
import { ErrorMessage, Loading } from "../ui";
import { cellText } from "../text";

const PAGE_SIZE = 25;

export default function ContentList() {
  const { type = "" } = useParams();
  const { types } = useOutletContext<{ types?: ContentTypeSummary[] }>();
  const { client } = useSession();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const [result, setResult] = useState<EntryPage | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const ct = types?.find((t) => t.id === type);

  useEffect(() => {
    setResult(undefined);
    setError(null);
    client
      .get<EntryPage>(`/content/${encodeURIComponent(type)}?page=${page}&limit=${PAGE_SIZE}`)
      .then(setResult)
      .catch(setError);
  }, [client, type, page]);

  if (!types) {
    return <Loading />;
  }
  if (!ct) {
    return (
      <>
        <h1>Not found</h1>
        <p>
          There is no content type <code>{type}</code>. <Link to="/">Back to the content</Link>
        </p>
      </>
    );
  }
  const columns = ct.admin.list_columns.length
    ? ct.admin.list_columns
    : [ct.admin.title_field ?? "id"];
  const locale = ct.locales[0];
  const total = result?.meta.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));

  return (
    <>
      <h1>{ct.name}</h1>
      {ct.description ? <p className="lead">{ct.description}</p> : null}
      <ErrorMessage error={error} />
      {!result && !error ? <Loading /> : null}
      {result ? (
        <>
          <table>
            <caption className="visually-hidden">{ct.name}: entries</caption>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c} scope="col">
                    {c.replace(/_/g, " ")}
                  </th>
                ))}
                {ct.drafts ? <th scope="col">status</th> : null}
              </tr>
            </thead>
            <tbody>
              {result.data.length === 0 ? (
                <tr>
                  <td colSpan={columns.length + 1}>No entries yet.</td>
                </tr>
              ) : (
                result.data.map((e) => (
                  <tr key={e.id}>
                    {columns.map((c) => (
                      <td key={c}>
                        {cellText(c in e.fields ? e.fields[c] : (e as unknown as Record<string, unknown>)[c], locale)}
                      </td>
                    ))}
                    {ct.drafts ? (
                      <td>
                        <span className={`status status-${e.status}`}>{e.status}</span>
                      </td>
                    ) : null}
                  </tr>
                ))
              )}
            </tbody>
          </table>
          <nav className="pager" aria-label="Pages">
            <button
              type="button"
              disabled={page <= 1}
              onClick={() => setParams({ page: String(page - 1) })}
            >
              Previous
            </button>
            <span>
              Page {page} of {pages}
              {result.meta.total_is_lower_bound ? "+" : ""} · {total} entries
            </span>
            <button
              type="button"
              disabled={page >= pages}
              onClick={() => setParams({ page: String(page + 1) })}
            >
              Next
            </button>
          </nav>
        </>
      ) : null}
    </>
  );
}
