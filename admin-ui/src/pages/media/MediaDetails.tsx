// One item in a dialog: its preview with the focal point, file name, alt text and caption
// (per locale on a site with locales), folder, the entries that use it, and deletion that says
// first what it would break.

import { useEffect, useRef, useState } from "react";
import { ApiError, type ContentTypeSummary, type MediaFolder, type MediaItem, type MediaUse } from "../../api/client";
import { useLoad } from "../../api/load";
import { thumbnailUrl } from "../../form/MediaPicker";
import { useSession } from "../../session";
import { fileSize } from "../../text";
import { Confirm, ErrorMessage, SelectField } from "../../ui";
import { type Focal, FocalPoint } from "./FocalPoint";
import { type Localized, fromLocales, perLocale } from "./locales";
import { Usage } from "./Usage";

export function MediaDetails({
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
  const [focal, setFocal] = useState<Focal>(
    item.focal && typeof item.focal.x === "number" && typeof item.focal.y === "number"
      ? { x: item.focal.x, y: item.focal.y }
      : null,
  );
  const [folder, setFolder] = useState<string>(item.folder ?? "");
  const uses = useLoad(
    () => client.get<{ data: MediaUse[] }>(`/media/${current.id}/usage`).then((r) => r.data),
    [client, current.id],
  );
  // Not knowing who uses it reads as nobody (the server still refuses to delete an item in
  // use without being told to); a failed second look keeps what the first one found.
  const usage = uses.data ?? (uses.error ? [] : null);
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
      // Someone used it meanwhile: show who.
      if (e instanceof ApiError && e.code === "media_in_use") uses.reload();
    } finally {
      setBusy(false);
      setConfirmDelete(false);
    }
  };

  return (
    <dialog ref={ref} className="dialog wide" aria-labelledby="media-title" onClose={onClose}>
      <h2 id="media-title">{current.filename}</h2>
      <p className="meta">
        {current.mime} · {fileSize(current.size)}
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
            <FocalPoint
              src={`${current.url}?w=640&fit=inside`}
              alt={perLocale(current.alt as Localized, locales)[textLocales[0] ?? ""] ?? ""}
              focal={focal}
              canEdit={canEdit}
              onFocal={setFocal}
            />
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
          <Usage usage={usage} types={types} onFollow={() => ref.current?.close()} />
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
