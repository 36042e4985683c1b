// One content type's entries: columns from the type's `[admin]` section, full-text search
// (the admin search API, drafts included) or a title filter for types without search,
// filters by status, enum and relation fields, sorting by column, pages, and bulk publish,
// unpublish and delete. The whole state lives in the URL, so a list can be linked to and
// survives a reload. Single types open their one entry instead.

import { useEffect, useId, useMemo, useState } from "react";
import { Link, useNavigate, useOutletContext, useParams, useSearchParams } from "react-router-dom";
import {
  type AdminEntry,
  ApiError,
  type ContentTypeSummary,
  type EntryPage,
  may,
  type SearchResults,
  type TypeDetail,
} from "../api/client";
import { type FieldSpec, type JsonSchema, fieldsOf } from "../form/model";
import { RelationPicker, entryTitle } from "../form/RelationPicker";
import { useSession } from "../session";
import { cellText, changedQuery } from "../text";
import { Confirm, ErrorMessage, Loading, SelectField, Pager } from "../ui";

const PAGE_SIZE = 25;
const SORTABLE = new Set(["text", "uid", "email", "url", "integer", "float", "boolean", "datetime", "date", "enum"]);
const META_COLUMNS = new Set(["id", "created_at", "updated_at", "published_at"]);
/** Parameters that belong to the list's own state, not to filters. */
const OWN = new Set(["page", "q", "sort", "locale"]);

type BulkAction = "publish" | "unpublish" | "delete";

export default function ContentList() {
  const { type = "" } = useParams();
  const { types } = useOutletContext<{ types?: ContentTypeSummary[] }>();
  const { client } = useSession();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [detail, setDetail] = useState<TypeDetail["data"] | undefined>(undefined);
  const [rows, setRows] = useState<{ data: AdminEntry[]; total: number; lowerBound: boolean } | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulk, setBulk] = useState<BulkAction | null>(null);
  const [report, setReport] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [searchText, setSearchText] = useState(params.get("q") ?? "");
  const ct = types?.find((t) => t.id === type);

  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const q = (params.get("q") ?? "").trim();
  const sort = params.get("sort") ?? "";
  const locale = params.get("locale") ?? ct?.locales[0];
  const filters = [...params.entries()].filter(([k]) => !OWN.has(k) && k.startsWith("filter["));
  const filterKey = filters.map(([k, v]) => `${k}=${v}`).join("&");

  useEffect(() => {
    setSearchText(params.get("q") ?? "");
    // The box follows the URL when another type's list opens.
  }, [type]);

  useEffect(() => {
    let live = true;
    setDetail(undefined);
    client
      .get<TypeDetail>(`/types/${encodeURIComponent(type)}`)
      .then((t) => live && setDetail(t.data))
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [client, type]);

  // A single type has one entry: open it (or start it).
  useEffect(() => {
    if (ct?.kind !== "single") return;
    client
      .get<EntryPage>(`/content/${encodeURIComponent(type)}?limit=1`)
      .then((p) => navigate(`/content/${type}/${p.data[0]?.id ?? "new"}`, { replace: true }))
      .catch(setError);
  }, [client, ct, type, navigate]);

  useEffect(() => {
    if (!ct || ct.kind === "single") return;
    let live = true;
    setRows(undefined);
    setError(null);
    setSelected(new Set());
    const load = async () => {
      if (q && ct.search) {
        const s = new URLSearchParams({ q, type, limit: String(PAGE_SIZE), page: String(page), facets: "" });
        const r = await client.get<SearchResults>(`/search?${s}`);
        const data = (r.data ?? []).map((h) => h.entry as unknown as AdminEntry);
        return { data, total: r.meta?.total ?? data.length, lowerBound: false };
      }
      const s = new URLSearchParams({ page: String(page), limit: String(PAGE_SIZE) });
      if (sort) s.set("sort", sort);
      // Another locale than the default: sorting and the title filter use its values
      // (falling back to the default's where empty), as the cells show them.
      const chosen = params.get("locale");
      if (chosen) s.set("locale", chosen);
      for (const [k, v] of filters) s.append(k, v);
      const title = ct.admin.title_field;
      if (q && title) s.set(`filter[${title}][contains]`, q);
      const r = await client.get<EntryPage>(`/content/${encodeURIComponent(type)}?${s}`);
      return { data: r.data, total: r.meta.total, lowerBound: !!r.meta.total_is_lower_bound };
    };
    load()
      .then((r) => live && setRows(r))
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
    // `filters` is read through `filterKey`, which changes when they do.
  }, [client, ct, type, page, q, sort, filterKey, reload, params]);

  const specs: FieldSpec[] = useMemo(() => (detail ? fieldsOf(detail.schema as JsonSchema) : []), [detail]);
  const columns = useMemo(
    () => (ct ? (ct.admin.list_columns.length ? ct.admin.list_columns : [ct.admin.title_field ?? "id"]) : []),
    [ct],
  );
  const titles = useRelationTitles(rows?.data, specs, columns, types);

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
  if (ct.kind === "single") {
    return error ? <ErrorMessage error={error} /> : <Loading />;
  }

  const set = (changes: Record<string, string | null>) => setParams(changedQuery(changes, window.location.search));

  const titleColumn =
    ct.admin.title_field && columns.includes(ct.admin.title_field) ? ct.admin.title_field : columns[0];
  const total = rows?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const searching = q !== "" && ct.search;
  const sortable = (c: string) =>
    !searching && (META_COLUMNS.has(c) || SORTABLE.has(specs.find((s) => s.name === c)?.kind ?? ""));
  const sortedBy = sort.replace(/^-/, "");
  const desc = sort.startsWith("-");
  const enumFilters = specs.filter((s) => s.kind === "enum" && !s.localized);
  const relationFilters = specs.filter((s) => s.kind === "relation" && !s.localized);
  const canBulk = {
    publish: ct.drafts && may(ct, "publish"),
    unpublish: ct.drafts && may(ct, "publish"),
    delete: may(ct, "delete"),
  };
  const anyBulk = canBulk.publish || canBulk.delete;
  const allOnPage = !!rows?.data.length && rows.data.every((e) => selected.has(e.id));

  const runBulk = async (action: BulkAction) => {
    const chosen = (rows?.data ?? []).filter((e) => selected.has(e.id));
    let done = 0;
    const failures: string[] = [];
    for (const e of chosen) {
      const path = `/content/${encodeURIComponent(type)}/${encodeURIComponent(e.id)}`;
      try {
        if (action === "delete") await client.delete(path, { version: e.version });
        else await client.post(`${path}/${action}`, { version: e.version });
        done += 1;
      } catch (err) {
        failures.push(`${entryTitle(e, ct, e.id)}: ${err instanceof ApiError ? err.message : "failed"}`);
      }
    }
    const verb = { publish: "published", unpublish: "unpublished", delete: "deleted" }[action];
    setReport(
      `${done} ${done === 1 ? "entry" : "entries"} ${verb}.${failures.length ? ` Not done: ${failures.join("; ")}` : ""}`,
    );
    setBulk(null);
    setReload((n) => n + 1);
  };

  return (
    <>
      <div className="list-head">
        <h1>{ct.name}</h1>
        {may(ct, "create") ? (
          <Link className="button" to={`/content/${type}/new`}>
            New {ct.name.toLowerCase()}
          </Link>
        ) : null}
      </div>
      {ct.description ? <p className="lead">{ct.description}</p> : null}

      <form
        className="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          set({ q: searchText.trim() || null });
        }}
      >
        <label className="grow">
          Search {ct.name.toLowerCase()}
          <input type="search" value={searchText} onChange={(e) => setSearchText(e.target.value)} />
        </label>
        {ct.drafts ? (
          <SelectField
            label="Status"
            value={params.get("filter[status]") ?? ""}
            disabled={searching}
            onChange={(e) => set({ "filter[status]": e.target.value || null })}
          >
            <option value="">Any</option>
            <option value="draft">Draft</option>
            <option value="published">Published</option>
            <option value="changed">Changed since published</option>
          </SelectField>
        ) : null}
        {enumFilters.map((s) => (
          <SelectField
            key={s.name}
            label={s.label}
            value={params.get(`filter[${s.name}]`) ?? ""}
            disabled={searching}
            onChange={(e) => set({ [`filter[${s.name}]`]: e.target.value || null })}
          >
            <option value="">Any</option>
            {(s.values ?? []).map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </SelectField>
        ))}
        {relationFilters.map((s) => (
          <RelationFilter
            key={s.name}
            spec={s}
            types={types}
            disabled={searching}
            value={params.get(s.many ? `filter[${s.name}][contains]` : `filter[${s.name}]`) ?? ""}
            onValue={(v) => set({ [s.many ? `filter[${s.name}][contains]` : `filter[${s.name}]`]: v || null })}
          />
        ))}
        {ct.locales.length > 1 ? (
          <SelectField
            label="Locale"
            value={locale}
            onChange={(e) => set({ locale: e.target.value === ct.locales[0] ? null : e.target.value })}
          >
            {ct.locales.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </SelectField>
        ) : null}
        <button type="submit">Search</button>
      </form>
      {searching ? (
        <p className="muted">
          Best matches first, drafts included. Filters and sorting apply to the list without a search.{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setSearchText("");
              set({ q: null });
            }}
          >
            Clear the search
          </button>
        </p>
      ) : null}

      {report ? (
        <p className="notice" role="status">
          {report}
        </p>
      ) : null}
      <ErrorMessage error={error} />
      {!rows && !error ? <Loading /> : null}
      {rows ? (
        <>
          {anyBulk && selected.size ? (
            <div className="bulk" role="group" aria-label="Selected entries">
              <span>{selected.size} selected</span>
              {canBulk.publish ? (
                <button type="button" onClick={() => setBulk("publish")}>
                  Publish
                </button>
              ) : null}
              {canBulk.unpublish ? (
                <button type="button" className="secondary" onClick={() => setBulk("unpublish")}>
                  Unpublish
                </button>
              ) : null}
              {canBulk.delete ? (
                <button type="button" className="danger" onClick={() => setBulk("delete")}>
                  Delete
                </button>
              ) : null}
            </div>
          ) : null}
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">{ct.name}: entries</caption>
              <thead>
                <tr>
                  {anyBulk ? (
                    <th scope="col" className="check-col">
                      <input
                        type="checkbox"
                        aria-label="Select every entry on this page"
                        checked={allOnPage}
                        onChange={() => setSelected(allOnPage ? new Set() : new Set(rows.data.map((e) => e.id)))}
                      />
                    </th>
                  ) : null}
                  {columns.map((c) => (
                    <th
                      key={c}
                      scope="col"
                      aria-sort={sortedBy === c ? (desc ? "descending" : "ascending") : undefined}
                    >
                      {sortable(c) ? (
                        <button
                          type="button"
                          className="sort"
                          onClick={() => set({ sort: sortedBy === c && !desc ? `-${c}` : c })}
                        >
                          {label(c, specs)}
                          <span aria-hidden="true">{sortedBy === c ? (desc ? " ▼" : " ▲") : ""}</span>
                        </button>
                      ) : (
                        label(c, specs)
                      )}
                    </th>
                  ))}
                  {ct.drafts ? <th scope="col">Status</th> : null}
                </tr>
              </thead>
              <tbody>
                {rows.data.length === 0 ? (
                  <tr>
                    <td colSpan={columns.length + 2}>{q || filters.length ? "Nothing matches." : "No entries yet."}</td>
                  </tr>
                ) : (
                  rows.data.map((e) => (
                    <tr key={e.id}>
                      {anyBulk ? (
                        <td className="check-col">
                          <input
                            type="checkbox"
                            aria-label={`Select ${entryTitle(e, ct, e.id)}`}
                            checked={selected.has(e.id)}
                            onChange={() =>
                              setSelected((s) => {
                                const next = new Set(s);
                                if (next.has(e.id)) next.delete(e.id);
                                else next.add(e.id);
                                return next;
                              })
                            }
                          />
                        </td>
                      ) : null}
                      {columns.map((c) => {
                        const raw = c in e.fields ? e.fields[c] : (e as unknown as Record<string, unknown>)[c];
                        const isRelation = specs.find((s) => s.name === c)?.kind === "relation";
                        const text =
                          META_COLUMNS.has(c) && typeof raw === "string" && c !== "id"
                            ? new Date(raw).toLocaleString()
                            : isRelation
                              ? (Array.isArray(raw) ? raw : raw ? [raw] : [])
                                  .map((x) => titles.get(String(x)) ?? "…")
                                  .join(", ")
                              : cellText(raw, locale, ct.locales[0]);
                        return (
                          <td key={c}>
                            {c === titleColumn ? (
                              <Link to={`/content/${type}/${e.id}`}>{text || "(untitled)"}</Link>
                            ) : (
                              text
                            )}
                          </td>
                        );
                      })}
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
          </div>
          <Pager
            page={page}
            pages={pages}
            summary={`${rows.lowerBound ? "+" : ""} · ${total} ${total === 1 ? "entry" : "entries"}`}
            onPage={(n) => set({ page: String(n) })}
          />
        </>
      ) : null}
      {bulk ? (
        <Confirm
          title={`${bulk[0]?.toUpperCase()}${bulk.slice(1)} ${selected.size} ${selected.size === 1 ? "entry" : "entries"}?`}
          body={
            bulk === "delete"
              ? "They are removed with their published versions; websites stop showing them."
              : bulk === "publish"
                ? "Their current drafts become what websites show."
                : "Websites stop showing them; the drafts stay."
          }
          confirm={`${bulk[0]?.toUpperCase()}${bulk.slice(1)}`}
          onConfirm={() => void runBulk(bulk)}
          onCancel={() => setBulk(null)}
        />
      ) : null}
    </>
  );
}

function label(column: string, specs: FieldSpec[]): string {
  return specs.find((s) => s.name === column)?.label ?? column.replace(/_/g, " ");
}

/** Titles of the entries the rows' relation columns point at: one request per target type. */
function useRelationTitles(
  rows: AdminEntry[] | undefined,
  specs: FieldSpec[],
  columns: string[],
  types: ContentTypeSummary[] | undefined,
): Map<string, string> {
  const { client } = useSession();
  const [titles, setTitles] = useState<Map<string, string>>(new Map());
  const wanted = useMemo(() => {
    const byTarget = new Map<string, Set<string>>();
    for (const c of columns) {
      const spec = specs.find((s) => s.name === c);
      if (spec?.kind !== "relation" || !spec.target) continue;
      for (const e of rows ?? []) {
        const v = e.fields[c];
        const ids = Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
        for (const id of ids) {
          if (typeof id !== "string") continue;
          const set = byTarget.get(spec.target) ?? new Set<string>();
          set.add(id);
          byTarget.set(spec.target, set);
        }
      }
    }
    return [...byTarget.entries()].map(([target, ids]) => [target, [...ids]] as const);
  }, [rows, specs, columns]);
  useEffect(() => {
    let live = true;
    for (const [target, ids] of wanted) {
      const t = types?.find((x) => x.id === target);
      if (!ids.length || !may(t, "read")) continue;
      client
        .get<EntryPage>(
          `/content/${encodeURIComponent(target)}?filter[id][in]=${encodeURIComponent(ids.join(","))}&limit=100`,
        )
        .then((page) => {
          if (!live) return;
          setTitles((m) => {
            const next = new Map(m);
            for (const e of page.data) next.set(e.id, entryTitle(e, t, e.id));
            return next;
          });
        })
        .catch(() => undefined);
    }
    return () => {
      live = false;
    };
  }, [client, wanted, types]);
  return titles;
}

/** A filter on a relation field: one of the target's entries, found by searching its titles. */
function RelationFilter({
  spec,
  types,
  value,
  disabled,
  onValue,
}: {
  spec: FieldSpec;
  types: ContentTypeSummary[];
  value: string;
  disabled: boolean;
  onValue: (v: string) => void;
}) {
  const id = useId();
  const { client } = useSession();
  const t = types.find((x) => x.id === spec.target);
  if (!t || !may(t, "read")) return null;
  return (
    <div className="select-field relation-filter">
      <label htmlFor={id}>{spec.label}</label>
      <RelationPicker
        id={id}
        label={spec.label}
        client={client}
        target={t.id}
        types={types}
        many={false}
        value={value || null}
        disabled={disabled}
        onChange={(v) => onValue(typeof v === "string" ? v : "")}
      />
    </div>
  );
}
