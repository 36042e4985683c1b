// The media library: folders, search and a type filter, a grid or a list, files dropped
// anywhere on the page (or picked) uploaded with progress into the open folder, and an item's
// details — file name, alt text and caption (per locale on a site with locales), folder, the
// focal point that crops keep in view, the entries that use it, and deletion that says what
// it would break first.

import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { Link, useOutletContext, useSearchParams } from "react-router-dom";
import {
  type AdminEntry,
  ApiError,
  type ContentTypeSummary,
  type EntryPage,
  type MediaFolder,
  type MediaItem,
  type MediaPage,
  type MediaUse,
} from "../api/client";
import { thumbnailUrl, uploadFiles } from "../form/MediaPicker";
import { entryTitle } from "../form/RelationPicker";
import { useSession } from "../session";
import { Confirm, ErrorMessage, Loading, SelectField, Table, Pager } from "../ui";

const PAGE_SIZE = 36;

/** The site's locales as the server counts them: every type's, the first type's default first. */
export function siteLocales(types: ContentTypeSummary[]): string[] {
  const out: string[] = [];
  for (const t of types) for (const l of t.locales) if (!out.includes(l)) out.push(l);
  return out;
}

function size(bytes: number | undefined): string {
  if (bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export default function MediaLibrary() {
  const { client, user } = useSession();
  const { types } = useOutletContext<{ types?: ContentTypeSummary[] }>();
  const [params, setParams] = useSearchParams();
  const folder = params.get("folder") ?? "";
  const q = params.get("q") ?? "";
  const kind = params.get("type") ?? "";
  const view = params.get("view") === "list" ? "list" : "grid";
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const [items, setItems] = useState<MediaPage | undefined>(undefined);
  const [folders, setFolders] = useState<MediaFolder[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [report, setReport] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [open, setOpen] = useState<MediaItem | null>(null);
  const [reload, setReload] = useState(0);
  const [searchText, setSearchText] = useState(q);
  const [naming, setNaming] = useState<"new" | "rename" | null>(null);
  const [confirmFolderDelete, setConfirmFolderDelete] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const perms = user?.permissions;
  const canUpload = !!perms?.media.includes("create");

  const set = useCallback(
    (changes: Record<string, string | null>) => {
      const next = new URLSearchParams(params);
      for (const [k, v] of Object.entries(changes)) {
        if (v === null || v === "") next.delete(k);
        else next.set(k, v);
      }
      if (!("page" in changes)) next.delete("page");
      setParams(next);
    },
    [params, setParams],
  );

  const loadFolders = useCallback(() => {
    client
      .get<{ data: MediaFolder[] }>("/media/folders")
      .then((r) => setFolders(r.data))
      .catch(setError);
  }, [client]);
  useEffect(loadFolders, [loadFolders]);

  useEffect(() => {
    let live = true;
    const s = new URLSearchParams({ limit: String(PAGE_SIZE), page: String(page) });
    if (folder) s.set("folder", folder);
    if (q) s.set("q", q);
    if (kind) s.set("type", kind);
    setItems(undefined);
    client
      .get<MediaPage>(`/media?${s}`)
      .then((r) => {
        if (live) {
          setItems(r);
          setError(null);
        }
      })
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [client, folder, q, kind, page, reload]);

  const upload = async (files: File[]) => {
    if (!files.length || !canUpload) return;
    setReport(null);
    setError(null);
    setProgress(0);
    try {
      const done = await uploadFiles(
        client,
        files,
        { folder: folder && folder !== "root" ? folder : null },
        setProgress,
      );
      const dupes = done.filter((d) => d.duplicate).length;
      setReport(
        `${done.length} ${done.length === 1 ? "file" : "files"} uploaded` +
          (dupes ? ` (${dupes} already in the library, kept once)` : "") +
          ".",
      );
      setReload((n) => n + 1);
    } catch (e) {
      setError(e);
    } finally {
      setProgress(null);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void upload(Array.from(e.dataTransfer.files));
  };

  const current = folders.find((f) => f.id === folder);
  const total = items?.meta?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const locales = useMemo(() => siteLocales(types ?? []), [types]);

  return (
    <div
      className={`library${dragging ? " dragging" : ""}`}
      onDragOver={(e) => {
        if (!canUpload) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <div className="list-head">
        <h1>Media library</h1>
        {canUpload ? (
          <div className="actions">
            <input
              ref={fileInput}
              id="library-upload"
              type="file"
              multiple
              className="visually-hidden"
              aria-label="Upload files"
              onChange={(e) => {
                void upload(Array.from(e.target.files ?? []));
                e.target.value = "";
              }}
            />
            <button type="button" onClick={() => fileInput.current?.click()}>
              Upload files
            </button>
          </div>
        ) : null}
      </div>
      {canUpload ? (
        <p className="muted">Drop files anywhere here to upload them{current ? ` into ${current.name}` : ""}.</p>
      ) : null}
      {progress !== null ? (
        <progress max={1} value={progress} aria-label="Uploading">
          {Math.round(progress * 100)}%
        </progress>
      ) : null}
      {report ? (
        <p className="notice" role="status">
          {report}
        </p>
      ) : null}
      <ErrorMessage error={error} />

      <div className="library-body">
        <nav className="folders" aria-label="Folders">
          <ul>
            <li>
              <button
                type="button"
                className={!folder ? "on" : ""}
                aria-current={!folder ? "true" : undefined}
                onClick={() => set({ folder: null })}
              >
                All files
              </button>
            </li>
            <li>
              <button
                type="button"
                className={folder === "root" ? "on" : ""}
                aria-current={folder === "root" ? "true" : undefined}
                onClick={() => set({ folder: "root" })}
              >
                Not in a folder
              </button>
            </li>
            <FolderTree folders={folders} parent={null} current={folder} onOpen={(id) => set({ folder: id })} />
          </ul>
          {canUpload ? (
            <div className="folder-actions">
              <button type="button" className="secondary small" onClick={() => setNaming("new")}>
                New folder
              </button>
              {current ? (
                <>
                  <button type="button" className="secondary small" onClick={() => setNaming("rename")}>
                    Rename
                  </button>
                  <button type="button" className="danger small" onClick={() => setConfirmFolderDelete(true)}>
                    Delete folder
                  </button>
                </>
              ) : null}
            </div>
          ) : null}
        </nav>

        <section className="library-main" aria-label="Files">
          <form
            className="filters"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              set({ q: searchText.trim() || null });
            }}
          >
            <label className="grow">
              Search files
              <input type="search" value={searchText} onChange={(e) => setSearchText(e.target.value)} />
            </label>
            <SelectField label="Kind" value={kind} onChange={(e) => set({ type: e.target.value || null })}>
              <option value="">Any</option>
              <option value="image">Images</option>
              <option value="video">Video</option>
              <option value="audio">Audio</option>
              <option value="application/pdf">PDF</option>
            </SelectField>
            <button type="submit">Search</button>
            <div className="views" role="group" aria-label="View">
              <button
                type="button"
                className="tool"
                aria-pressed={view === "grid"}
                onClick={() => set({ view: null, page: String(page) })}
              >
                Grid
              </button>
              <button
                type="button"
                className="tool"
                aria-pressed={view === "list"}
                onClick={() => set({ view: "list", page: String(page) })}
              >
                List
              </button>
            </div>
          </form>

          {!items && !error ? <Loading /> : null}
          {items && (items.data ?? []).length === 0 ? (
            <p className="muted">{q || kind ? "Nothing matches." : "No files here yet."}</p>
          ) : null}
          {items && view === "grid" ? (
            <ul className="media-grid">
              {(items.data ?? []).map((item) => {
                const thumb = thumbnailUrl(item, 240);
                return (
                  <li key={item.id}>
                    <button
                      type="button"
                      className="tile"
                      onClick={() => setOpen(item)}
                      aria-label={`Open ${item.filename}`}
                    >
                      {thumb ? (
                        <img src={thumb} alt="" width={160} height={160} loading="lazy" />
                      ) : (
                        <span className="file-kind" aria-hidden="true">
                          {item.mime?.split("/")[1]?.toUpperCase() ?? "FILE"}
                        </span>
                      )}
                      <span>{item.filename}</span>
                    </button>
                  </li>
                );
              })}
            </ul>
          ) : null}
          {items && view === "list" && (items.data ?? []).length ? (
            <Table caption="Files" columns={["Name", "Kind", "Size", "Dimensions", "Uploaded"]}>
              {(items.data ?? []).map((item) => (
                <tr key={item.id}>
                  <td>
                    <button type="button" className="link" onClick={() => setOpen(item)}>
                      {item.filename}
                    </button>
                  </td>
                  <td>{item.mime}</td>
                  <td>{size(item.size)}</td>
                  <td>{item.width && item.height ? `${item.width}×${item.height}` : ""}</td>
                  <td>{item.created_at ? new Date(item.created_at).toLocaleString() : ""}</td>
                </tr>
              ))}
            </Table>
          ) : null}
          {items && pages > 1 ? (
            <Pager page={page} pages={pages} summary={` · ${total} files`} onPage={(n) => set({ page: String(n) })} />
          ) : null}
        </section>
      </div>

      {open ? (
        <MediaDetails
          item={open}
          folders={folders}
          locales={locales}
          types={types ?? []}
          onClose={() => setOpen(null)}
          onChanged={() => setReload((n) => n + 1)}
        />
      ) : null}
      {naming ? (
        <FolderNameDialog
          title={
            naming === "new"
              ? current
                ? `New folder in ${current.name}`
                : "New folder"
              : `Rename ${current?.name ?? ""}`
          }
          initial={naming === "rename" ? (current?.name ?? "") : ""}
          onCancel={() => setNaming(null)}
          onSave={async (name) => {
            if (naming === "new") {
              await client.post("/media/folders", { name, parent: current?.id ?? null });
            } else if (current) {
              await client.patch(`/media/folders/${current.id}`, { name, parent: current.parent });
            }
            setNaming(null);
            loadFolders();
          }}
        />
      ) : null}
      {confirmFolderDelete && current ? (
        <Confirm
          title={`Delete the folder ${current.name}?`}
          body="Only an empty folder can be deleted; move or delete its files and folders first."
          confirm="Delete folder"
          onCancel={() => setConfirmFolderDelete(false)}
          onConfirm={() => {
            setConfirmFolderDelete(false);
            client
              .delete(`/media/folders/${current.id}`)
              .then(() => {
                set({ folder: current.parent ?? null });
                loadFolders();
              })
              .catch(setError);
          }}
        />
      ) : null}
    </div>
  );
}

function FolderTree({
  folders,
  parent,
  current,
  onOpen,
}: {
  folders: MediaFolder[];
  parent: string | null;
  current: string;
  onOpen: (id: string) => void;
}) {
  const children = folders.filter((f) => (f.parent ?? null) === parent).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <>
      {children.map((f) => (
        <li key={f.id}>
          <button
            type="button"
            className={current === f.id ? "on" : ""}
            aria-current={current === f.id ? "true" : undefined}
            onClick={() => onOpen(f.id)}
          >
            {f.name}
          </button>
          {folders.some((x) => x.parent === f.id) ? (
            <ul>
              <FolderTree folders={folders} parent={f.id} current={current} onOpen={onOpen} />
            </ul>
          ) : null}
        </li>
      ))}
    </>
  );
}

function FolderNameDialog({
  title,
  initial,
  onSave,
  onCancel,
}: {
  title: string;
  initial: string;
  onSave: (name: string) => Promise<void>;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState(initial);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="folder-title" onClose={onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onSave(name.trim()).catch(setError);
        }}
      >
        <h2 id="folder-title">{title}</h2>
        <ErrorMessage error={error} />
        <label>
          Folder name
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required autoFocus />
        </label>
        <div className="actions">
          <button type="submit" disabled={!name.trim()}>
            Save
          </button>
          <button type="button" className="secondary" onClick={() => ref.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

type Localized = string | Record<string, string> | null | undefined;

/** Text per locale for the form (a plain string is the default locale's). */
function perLocale(v: Localized, locales: string[]): Record<string, string> {
  if (typeof v === "string") return { [locales[0] ?? ""]: v };
  return { ...(v ?? {}) };
}

/** What PATCH takes back: a string without locales; an object of the filled locales, or null. */
function fromLocales(v: Record<string, string>, locales: string[]): Localized {
  if (!locales.length) return v[""]?.trim() ? v[""] : null;
  const filled = Object.fromEntries(Object.entries(v).filter(([l, t]) => locales.includes(l) && t.trim()));
  return Object.keys(filled).length ? filled : null;
}

/** One item: preview with its focal point, metadata, usage, deletion. */
function MediaDetails({
  item,
  folders,
  locales,
  types,
  onClose,
  onChanged,
}: {
  item: MediaItem;
  folders: MediaFolder[];
  locales: string[];
  types: ContentTypeSummary[];
  onClose: () => void;
  onChanged: () => void;
}) {
  const { client, user } = useSession();
  const ref = useRef<HTMLDialogElement>(null);
  const [current, setCurrent] = useState<MediaItem>(item);
  const [filename, setFilename] = useState(item.filename ?? "");
  const [alt, setAlt] = useState(() => perLocale(item.alt as Localized, locales));
  const [caption, setCaption] = useState(() => perLocale(item.caption as Localized, locales));
  const [focal, setFocal] = useState<{ x: number; y: number } | null>(
    item.focal && typeof item.focal.x === "number" && typeof item.focal.y === "number"
      ? { x: item.focal.x, y: item.focal.y }
      : null,
  );
  const [folder, setFolder] = useState<string>(item.folder ?? "");
  const [usage, setUsage] = useState<MediaUse[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [busy, setBusy] = useState(false);
  const perms = user?.permissions;
  const mine = current.created_by === `user:${user?.id}`;
  const canEdit = !!perms?.media.includes("update") && (!perms.own_media_only || mine);
  const canDelete = !!perms?.media.includes("delete") && (!perms.own_media_only || mine);
  const isImage = !!thumbnailUrl(current);
  const textLocales = locales.length ? locales : [""];

  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const [titles, setTitles] = useState<Record<string, string>>({});
  useEffect(() => {
    client
      .get<{ data: MediaUse[] }>(`/media/${current.id}/usage`)
      .then((r) => setUsage(r.data))
      .catch(() => setUsage([]));
  }, [client, current.id]);
  // The using entries by title: one request per type.
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

  const save = async () => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const r = await client.patch<{ data: MediaItem }>(`/media/${current.id}`, {
        filename: filename.trim() || current.filename,
        alt: fromLocales(alt, locales),
        caption: fromLocales(caption, locales),
        focal,
        folder: folder || null,
        version: current.version,
      });
      setCurrent(r.data);
      setFilename(r.data.filename ?? "");
      setNotice("Saved.");
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      await client.delete(`/media/${current.id}${usage?.length ? "?force=true" : ""}`);
      onChanged();
      ref.current?.close();
    } catch (e) {
      setError(e);
      if (e instanceof ApiError && e.code === "media_in_use") {
        // Someone used it meanwhile: show who.
        client
          .get<{ data: MediaUse[] }>(`/media/${current.id}/usage`)
          .then((r) => setUsage(r.data))
          .catch(() => undefined);
      }
    } finally {
      setBusy(false);
      setConfirmDelete(false);
    }
  };

  const pickFocal = (e: React.MouseEvent<HTMLDivElement>) => {
    if (!canEdit) return;
    const box = e.currentTarget.getBoundingClientRect();
    const round = (n: number) => Math.round(Math.min(1, Math.max(0, n)) * 100) / 100;
    setFocal({ x: round((e.clientX - box.left) / box.width), y: round((e.clientY - box.top) / box.height) });
  };

  return (
    <dialog ref={ref} className="dialog wide" aria-labelledby="media-title" onClose={onClose}>
      <h2 id="media-title">{current.filename}</h2>
      <p className="meta">
        {current.mime} · {size(current.size)}
        {current.width && current.height ? ` · ${current.width}×${current.height}` : ""}
        {" · "}
        <a href={current.url} target="_blank" rel="noreferrer">
          Open the original
        </a>
      </p>
      <ErrorMessage error={error} />
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <div className="media-details">
        <div>
          {isImage ? (
            <>
              <div
                className={`focal-picker${canEdit ? " editable" : ""}`}
                onClick={pickFocal}
                role="presentation"
                title={canEdit ? "Click the part of the image that crops should keep" : undefined}
              >
                <img
                  src={`${current.url}?w=640&fit=inside`}
                  alt={perLocale(current.alt as Localized, locales)[textLocales[0] ?? ""] ?? ""}
                />
                {focal ? (
                  <span
                    className="focal-dot"
                    style={{ left: `${focal.x * 100}%`, top: `${focal.y * 100}%` }}
                    aria-hidden="true"
                  />
                ) : null}
              </div>
              <fieldset className="group focal-fields" disabled={!canEdit}>
                <legend>Focal point</legend>
                <p className="help">Click the image, or set it here: crops keep this point in view.</p>
                <div className="inline">
                  <label>
                    Across (%)
                    <input
                      type="number"
                      min={0}
                      max={100}
                      value={focal ? Math.round(focal.x * 100) : ""}
                      onChange={(e) => setFocal({ x: Number(e.target.value) / 100, y: focal?.y ?? 0.5 })}
                    />
                  </label>
                  <label>
                    Down (%)
                    <input
                      type="number"
                      min={0}
                      max={100}
                      value={focal ? Math.round(focal.y * 100) : ""}
                      onChange={(e) => setFocal({ x: focal?.x ?? 0.5, y: Number(e.target.value) / 100 })}
                    />
                  </label>
                  <button type="button" className="secondary" onClick={() => setFocal(null)} disabled={!focal}>
                    Centre
                  </button>
                </div>
              </fieldset>
            </>
          ) : (
            <p className="muted">No preview for this kind of file.</p>
          )}
        </div>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <fieldset disabled={!canEdit} className="plain">
            <label>
              File name
              <input value={filename} onChange={(e) => setFilename(e.target.value)} maxLength={255} />
            </label>
            {textLocales.map((l) => (
              <label key={`alt-${l}`}>
                Alt text{l ? ` (${l})` : ""}
                <input
                  value={alt[l] ?? ""}
                  maxLength={1000}
                  onChange={(e) => setAlt({ ...alt, [l]: e.target.value })}
                />
              </label>
            ))}
            {textLocales.map((l) => (
              <label key={`caption-${l}`}>
                Caption{l ? ` (${l})` : ""}
                <textarea
                  rows={2}
                  value={caption[l] ?? ""}
                  maxLength={1000}
                  onChange={(e) => setCaption({ ...caption, [l]: e.target.value })}
                />
              </label>
            ))}
            <SelectField label="Folder" value={folder} onChange={(e) => setFolder(e.target.value)}>
              <option value="">Not in a folder</option>
              {folders.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.name}
                </option>
              ))}
            </SelectField>
          </fieldset>
          <h3>Used by</h3>
          {usage === null ? <p className="muted">Loading…</p> : null}
          {usage?.length === 0 ? <p className="muted">No entry uses this file.</p> : null}
          {usage?.length ? (
            <ul className="usage">
              {usage.map((u) => (
                <li key={`${u.type}/${u.id}`}>
                  <Link to={`/content/${u.type}/${u.id}`} onClick={() => ref.current?.close()}>
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
          <div className="actions">
            {canEdit ? (
              <button type="submit" disabled={busy}>
                Save
              </button>
            ) : null}
            {canDelete ? (
              <button type="button" className="danger" disabled={busy} onClick={() => setConfirmDelete(true)}>
                Delete
              </button>
            ) : null}
            <button type="button" className="secondary" onClick={() => ref.current?.close()}>
              Close
            </button>
          </div>
        </form>
      </div>
      {confirmDelete ? (
        <Confirm
          title={`Delete ${current.filename}?`}
          body={
            usage?.length
              ? `${usage.length} ${usage.length === 1 ? "entry uses" : "entries use"} it${usage.some((u) => u.published) ? ", some of them published" : ""}: deleting removes it from ${usage.length === 1 ? "that entry" : "them"} (a new version of each).`
              : "The file and every size made from it are removed."
          }
          confirm={usage?.length ? "Delete and remove from entries" : "Delete"}
          onCancel={() => setConfirmDelete(false)}
          onConfirm={() => void remove()}
        />
      ) : null}
    </dialog>
  );
}
