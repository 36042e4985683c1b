// The entry editor: a form generated from the content type's JSON Schema, saved as a draft
// or published, with the server's validation errors beside their fields.
//
// Nothing typed is lost: every change is kept in this browser (localStorage) until the
// server has it, and offered back on the next visit; leaving with unsaved changes asks
// first; a save that meets a colleague's newer version (409) shows who changed which field
// and lets the editor keep their changes over it or take the other version, never silently.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useBlocker, useLocation, useNavigate, useOutletContext, useParams } from "react-router-dom";
import { type AdminEntry, ApiError, type ContentTypeSummary, may, type TypeDetail } from "../api/client";
import { FieldList } from "../form/Fields";
import { FormContext, controlId } from "../form/context";
import {
  type Conflict,
  type FieldSpec,
  type Fields,
  type JsonSchema,
  changedFields,
  conflictOf,
  fieldsOf,
  keepMine,
  newItem,
  pathSegments,
  toPayload,
} from "../form/model";
import { entryTitle } from "../form/RelationPicker";
import { useSession } from "../session";
import { cellText } from "../text";
import { Confirm, ErrorMessage, Loading } from "../ui";

type Detail = TypeDetail["data"];

/** What this browser keeps of unsaved work on one entry. */
interface Backup {
  values: Fields;
  base: Fields;
  version: number | null;
  saved_at: string;
}

const backupKey = (type: string, id: string) => `folio:unsaved:${type}:${id}`;

/** The fields the form shows: the type's, without those the editor's role may not see. */
function formFields(detail: Detail): FieldSpec[] {
  const hidden = detail.permissions.hidden_fields;
  return fieldsOf(detail.schema as JsonSchema).filter((s) => !hidden.includes(s.name));
}

function readBackup(key: string): Backup | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as Backup) : null;
  } catch {
    return null;
  }
}

export default function EntryEdit() {
  const { type = "", id = "new" } = useParams();
  const isNew = id === "new";
  const { types } = useOutletContext<{ types?: ContentTypeSummary[] }>();
  const { client } = useSession();
  const navigate = useNavigate();
  const location = useLocation();

  const [detail, setDetail] = useState<Detail | undefined>(undefined);
  const [entry, setEntry] = useState<AdminEntry | null>(null);
  const [base, setBase] = useState<Fields>({});
  const [values, setValues] = useState<Fields>({});
  const [loadError, setLoadError] = useState<unknown>(null);
  const [locale, setLocale] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [conflict, setConflict] = useState<{ theirs: AdminEntry; what: Conflict; publish: boolean } | null>(null);
  const [invalid, setInvalid] = useState<Record<string, string>>({});
  const [offered, setOffered] = useState<Backup | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const leaving = useRef(false);

  const specs: FieldSpec[] = useMemo(() => (detail ? formFields(detail) : []), [detail]);
  const key = backupKey(type, id);

  // Load the type and the entry; offer what this browser kept, if it differs.
  useEffect(() => {
    let live = true;
    setDetail(undefined);
    setLoadError(null);
    setErrors({});
    setProblem(null);
    // A new entry's first save arrives here with what to say about it.
    setNotice((location.state as { notice?: string } | null)?.notice ?? null);
    Promise.all([
      client.get<TypeDetail>(`/types/${encodeURIComponent(type)}`),
      isNew
        ? Promise.resolve(null)
        : client.get<{ data: AdminEntry }>(`/content/${encodeURIComponent(type)}/${encodeURIComponent(id)}`),
    ])
      .then(([t, e]) => {
        if (!live) return;
        const s = formFields(t.data);
        const start = e ? e.data.fields : newItem(s, t.data.locales);
        setDetail(t.data);
        setEntry(e?.data ?? null);
        setBase(start);
        setValues(start);
        setLocale(t.data.locales[0] ?? "");
        const kept = readBackup(backupKey(type, id));
        setOffered(kept && changedFields(s, start, kept.values).length ? kept : null);
      })
      .catch((err: unknown) => live && setLoadError(err));
    return () => {
      live = false;
    };
    // `location.state` is read once per entry opened.
  }, [client, type, id, isNew]);

  const changed = useMemo(() => changedFields(specs, base, values), [specs, base, values]);
  const dirty = changed.length > 0;
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;

  // Keep unsaved work in the browser (not while a kept copy is still being offered).
  useEffect(() => {
    if (!detail || offered) return;
    const timer = setTimeout(() => {
      try {
        if (dirty) {
          const backup: Backup = { values, base, version: entry?.version ?? null, saved_at: new Date().toISOString() };
          localStorage.setItem(key, JSON.stringify(backup));
        } else {
          localStorage.removeItem(key);
        }
      } catch {
        // storage full or disabled: the leave guard still protects the work
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [detail, offered, dirty, values, base, entry, key]);

  // Closing the tab with unsaved changes asks first.
  useEffect(() => {
    const onUnload = (e: BeforeUnloadEvent) => {
      if (dirtyRef.current) {
        e.preventDefault();
      }
    };
    window.addEventListener("beforeunload", onUnload);
    return () => window.removeEventListener("beforeunload", onUnload);
  }, []);
  const blocker = useBlocker(
    ({ currentLocation, nextLocation }) =>
      !leaving.current && dirtyRef.current && currentLocation.pathname !== nextLocation.pathname,
  );

  const markInvalid = useCallback((path: string, message: string | null) => {
    setInvalid((m) => {
      if (message === null) {
        if (!(path in m)) return m;
        const rest = { ...m };
        delete rest[path];
        return rest;
      }
      return m[path] === message ? m : { ...m, [path]: message };
    });
  }, []);

  if (loadError) {
    return (
      <>
        <h1>{loadError instanceof ApiError && loadError.status === 404 ? "Not found" : "Could not open the entry"}</h1>
        <ErrorMessage error={loadError} />
        <Link to={`/content/${type}`}>Back to the list</Link>
      </>
    );
  }
  if (!detail || !types) {
    return <Loading />;
  }

  const summary = types.find((t) => t.id === type) ?? detail;
  const canWrite = may(summary, isNew ? "create" : "update");
  const canPublish = may(summary, "publish");
  // Without drafts every save is published, so it takes the publish permission too.
  const canSave = canWrite && (detail.drafts || canPublish);
  const readOnlyFields = detail.permissions.read_only_fields;
  const title =
    entry && detail.admin.title_field
      ? cellText(values[detail.admin.title_field], detail.locales[0]) || entryTitle(entry, summary, entry.id)
      : isNew
        ? `New ${detail.name.toLowerCase()}`
        : (entry?.id ?? "");
  const hasLocalized = specs.some((s) => s.localized);

  const adopt = (e: AdminEntry, message: string) => {
    setEntry(e);
    setBase(e.fields);
    setValues(e.fields);
    setErrors({});
    setProblem(null);
    setConflict(null);
    setNotice(message);
    try {
      localStorage.removeItem(key);
    } catch {
      // nothing kept
    }
  };

  /** `publish`: what the failed save was asked to do, for the retry after a conflict. */
  const fail = async (err: unknown, publish = false) => {
    if (err instanceof ApiError && err.code === "version_conflict" && entry) {
      try {
        const current = await client.get<{ data: AdminEntry }>(
          `/content/${encodeURIComponent(type)}/${encodeURIComponent(entry.id)}`,
        );
        setConflict({ theirs: current.data, what: conflictOf(specs, base, values, current.data.fields), publish });
        setProblem(null);
        return;
      } catch (again) {
        setProblem(again);
        return;
      }
    }
    if (err instanceof ApiError && err.status === 422 && Object.keys(err.fields).length) {
      setErrors(Object.fromEntries(Object.entries(err.fields).map(([p, f]) => [p, f.message])));
    } else {
      setErrors({});
    }
    setProblem(err);
  };

  const save = async (publish: boolean, over?: { values: Fields; base: Fields; version: number }) => {
    if (Object.keys(invalid).length) {
      setProblem(
        new ApiError(0, "invalid_json", "Some fields hold text that is not valid JSON; fix them before saving."),
      );
      return;
    }
    const v = over?.values ?? values;
    const b = over?.base ?? base;
    setBusy(publish ? "publish" : "save");
    setNotice(null);
    try {
      const payload = toPayload(specs, v);
      if (isNew) {
        const r = await client.post<{ data: AdminEntry }>(`/content/${encodeURIComponent(type)}`, {
          fields: payload,
          publish,
        });
        adopt(r.data, publish ? "Created and published." : "Created.");
        leaving.current = true;
        try {
          localStorage.removeItem(backupKey(type, "new"));
        } catch {
          // nothing kept
        }
        navigate(`/content/${type}/${r.data.id}`, {
          replace: true,
          state: { notice: publish ? "Created and published." : "Created." },
        });
        leaving.current = false;
        return;
      }
      if (!entry) return;
      const fields = Object.fromEntries(changedFields(specs, b, v).map((f) => [f, payload[f]]));
      const version = over?.version ?? entry.version;
      const path = `/content/${encodeURIComponent(type)}/${encodeURIComponent(entry.id)}`;
      let r: { data: AdminEntry };
      if (Object.keys(fields).length === 0 && publish) {
        r = await client.post<{ data: AdminEntry }>(`${path}/publish`, { version });
      } else {
        r = await client.patch<{ data: AdminEntry }>(
          path,
          detail.drafts ? { fields, version, publish } : { fields, version },
        );
      }
      adopt(r.data, publish ? "Published." : detail.drafts ? "Draft saved." : "Saved.");
    } catch (err) {
      await fail(err, publish);
    } finally {
      setBusy(null);
    }
  };

  const act = async (what: "unpublish" | "delete") => {
    if (!entry) return;
    setBusy(what);
    setNotice(null);
    const path = `/content/${encodeURIComponent(type)}/${encodeURIComponent(entry.id)}`;
    try {
      if (what === "unpublish") {
        const r = await client.post<{ data: AdminEntry }>(`${path}/unpublish`, { version: entry.version });
        setEntry(r.data);
        setNotice("Unpublished: the delivery API no longer shows it.");
      } else {
        await client.delete(path, { version: entry.version });
        leaving.current = true;
        try {
          localStorage.removeItem(key);
        } catch {
          // nothing kept
        }
        navigate(`/content/${type}`, { replace: true });
      }
    } catch (err) {
      await fail(err);
    } finally {
      setBusy(null);
      setConfirmDelete(false);
    }
  };

  const errorList = Object.entries(errors);
  return (
    <FormContext.Provider
      value={{
        client,
        types,
        typeId: type,
        locales: detail.locales,
        locale,
        values,
        errors,
        readOnly: !canSave,
        readOnlyFields,
        setInvalid: markInvalid,
      }}
    >
      <div className="editor">
        <nav className="crumbs" aria-label="Breadcrumb">
          {detail.kind === "single" ? detail.name : <Link to={`/content/${type}`}>{detail.name}</Link>}
        </nav>
        <header className="editor-head">
          <div>
            <h1>{title || "Untitled"}</h1>
            {entry ? (
              <p className="meta">
                {detail.drafts ? <span className={`status status-${entry.status}`}>{entry.status}</span> : null} Version{" "}
                {entry.version} · updated {new Date(entry.updated_at).toLocaleString()}
                {entry.published_at ? ` · published ${new Date(entry.published_at).toLocaleString()}` : ""}
              </p>
            ) : null}
          </div>
          <div className="actions" role="group" aria-label="Entry actions">
            {canSave ? (
              <button
                type="button"
                className={detail.drafts ? "secondary" : undefined}
                disabled={!!busy || (!dirty && !isNew)}
                onClick={() => void save(false)}
              >
                {busy === "save" ? "Saving…" : detail.drafts ? "Save draft" : "Save"}
              </button>
            ) : null}
            {detail.drafts && canPublish && canWrite ? (
              <button
                type="button"
                disabled={!!busy || (!dirty && !isNew && entry?.status === "published")}
                onClick={() => void save(true)}
              >
                {busy === "publish" ? "Publishing…" : "Publish"}
              </button>
            ) : null}
            {detail.drafts && canPublish && entry && entry.status !== "draft" ? (
              <button type="button" className="secondary" disabled={!!busy} onClick={() => void act("unpublish")}>
                Unpublish
              </button>
            ) : null}
            {entry && may(summary, "delete") ? (
              <button type="button" className="danger" disabled={!!busy} onClick={() => setConfirmDelete(true)}>
                Delete
              </button>
            ) : null}
          </div>
        </header>

        {!canSave ? (
          <p className="note">
            You can read this {detail.name.toLowerCase()} but not change it
            {!canPublish && canWrite ? " (saving it publishes it)" : ""}.
          </p>
        ) : null}
        {offered ? (
          <div className="banner" role="region" aria-label="Unsaved changes kept in this browser">
            <p>This browser kept changes you had not saved ({new Date(offered.saved_at).toLocaleString()}).</p>
            <button
              type="button"
              onClick={() => {
                setValues(offered.values);
                if (offered.version !== null && entry && offered.version !== entry.version) {
                  // Made on an older version: saving meets the newer one as a conflict.
                  setBase(offered.base);
                  setEntry({ ...entry, version: offered.version });
                }
                setOffered(null);
              }}
            >
              Restore them
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                try {
                  localStorage.removeItem(key);
                } catch {
                  // nothing kept
                }
                setOffered(null);
              }}
            >
              Discard them
            </button>
          </div>
        ) : null}
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        {problem ? (
          <div className="error" role="alert">
            <p>
              {problem instanceof ApiError
                ? problem.message
                : "The server could not save. Your changes are kept here; try again."}
            </p>
            {errorList.length ? (
              <ul>
                {errorList.map(([p, message]) => {
                  const segs = pathSegments(p);
                  const spec = specs.find((s) => s.name === segs[0]);
                  const loc = spec?.localized && typeof segs[1] === "string" ? segs[1] : null;
                  return (
                    <li key={p}>
                      <button
                        type="button"
                        className="link"
                        onClick={() => {
                          if (loc) setLocale(loc);
                          // A localised field's own error shows on its default locale.
                          const target = spec?.localized && !loc ? `${p}.${detail.locales[0] ?? ""}` : p;
                          if (spec?.localized && !loc) setLocale(detail.locales[0] ?? "");
                          requestAnimationFrame(() => document.getElementById(controlId(target))?.focus());
                        }}
                      >
                        {p.replace(/^fields\./, "")}
                      </button>
                      : {message}
                    </li>
                  );
                })}
              </ul>
            ) : null}
          </div>
        ) : null}

        {hasLocalized && detail.locales.length > 1 ? (
          <div className="locales" role="group" aria-label="Locale">
            {detail.locales.map((l) => (
              <button
                key={l}
                type="button"
                className={l === locale ? "tab on" : "tab"}
                aria-pressed={l === locale}
                onClick={() => setLocale(l)}
              >
                {l}
                {l === detail.locales[0] ? " (default)" : ""}
                {errorList.some(([p]) => pathSegments(p)[1] === l) ? " ⚠" : ""}
              </button>
            ))}
          </div>
        ) : null}

        <form
          className="entry-form"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            if (canSave) void save(false);
          }}
        >
          <FieldList specs={specs} at={[]} value={values} onChange={setValues} />
        </form>
      </div>

      {conflict ? (
        <ConflictDialog
          specs={specs}
          locale={detail.locales[0]}
          mine={values}
          theirs={conflict.theirs}
          what={conflict.what}
          onKeepMine={() => {
            const merged = keepMine(specs, base, values, conflict.theirs.fields);
            setConflict(null);
            setEntry(conflict.theirs);
            setBase(conflict.theirs.fields);
            setValues(merged);
            // What the editor asked for (save or publish) happens, now over their version.
            void save(conflict.publish, {
              values: merged,
              base: conflict.theirs.fields,
              version: conflict.theirs.version,
            });
          }}
          onTakeTheirs={() => adopt(conflict.theirs, "Loaded the latest version; your changes were discarded.")}
          onClose={() => setConflict(null)}
        />
      ) : null}
      {confirmDelete && entry ? (
        <Confirm
          title={`Delete “${title}”?`}
          body={
            detail.drafts
              ? "The entry and its published version are removed; websites stop showing it."
              : "The entry is removed; websites stop showing it."
          }
          confirm="Delete"
          onConfirm={() => void act("delete")}
          onCancel={() => setConfirmDelete(false)}
        />
      ) : null}
      {blocker.state === "blocked" ? (
        <Confirm
          title="Leave with unsaved changes?"
          body="Your changes are not on the server yet. This browser keeps them and offers them back when you open this entry again."
          confirm="Leave"
          onConfirm={() => blocker.proceed()}
          onCancel={() => blocker.reset()}
        />
      ) : null}
    </FormContext.Provider>
  );
}

/** A value in a sentence: short, in the default locale. */
function brief(v: unknown, locale?: string): string {
  const t = cellText(v, locale);
  return t === "" ? "(empty)" : t;
}

function ConflictDialog({
  specs,
  locale,
  mine,
  theirs,
  what,
  onKeepMine,
  onTakeTheirs,
  onClose,
}: {
  specs: FieldSpec[];
  locale?: string;
  mine: Fields;
  theirs: AdminEntry;
  what: Conflict;
  onKeepMine: () => void;
  onTakeTheirs: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const label = (name: string) => specs.find((s) => s.name === name)?.label ?? name;
  const fields = [...new Set([...what.theirs, ...what.mine])];
  return (
    <dialog ref={ref} className="dialog wide" aria-labelledby="conflict-title" onClose={onClose}>
      <h2 id="conflict-title">Someone else saved this entry</h2>
      <p>
        Version {theirs.version} was saved while you were editing. Choose which changes to keep; nothing is saved until
        you do.
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Their version</th>
            <th scope="col">Yours</th>
          </tr>
        </thead>
        <tbody>
          {fields.map((f) => (
            <tr key={f} className={what.both.includes(f) ? "clash" : undefined}>
              <th scope="row">
                {label(f)}
                {what.both.includes(f)
                  ? " (both changed)"
                  : what.theirs.includes(f)
                    ? " (they changed)"
                    : " (you changed)"}
              </th>
              <td>{brief(theirs.fields[f], locale)}</td>
              <td>{brief(mine[f], locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        Keeping yours saves your changed fields over their version: their changes to other fields stay
        {what.both.length ? `, and yours win where you both changed ${what.both.map(label).join(", ")}` : ""}.
      </p>
      <div className="actions">
        <button type="button" onClick={onKeepMine}>
          Keep my changes
        </button>
        <button type="button" className="secondary" onClick={onTakeTheirs}>
          Discard mine, load theirs
        </button>
      </div>
    </dialog>
  );
}
