// `/media`, the media library: folders, search and a type filter, a grid or a list, files
// dropped anywhere on the page (or picked) uploaded with progress into the open folder, and an
// item's details. The page owns what is shown (the URL) and the requests; the parts beside it
// draw the folders, the files and one item.

import { useCallback, useMemo, useRef, useState, type DragEvent } from "react";
import { useOutletContext, useSearchParams } from "react-router-dom";
import type { ContentTypeSummary, MediaFolder, MediaItem, MediaPage } from "../../api/client";
import { useLoad } from "../../api/load";
import { uploadFiles } from "../../form/MediaPicker";
import { useSession } from "../../session";
import { changedQuery } from "../../text";
import { Confirm, ErrorMessage } from "../../ui";
import { Files, PAGE_SIZE } from "./Files";
import { FolderNameDialog, FolderNav } from "./folders";
import { siteLocales } from "./locales";
import { MediaDetails } from "./MediaDetails";

export default function MediaLibrary() {
  const { client, user } = useSession();
  const { types } = useOutletContext<{ types?: ContentTypeSummary[] }>();
  const [params, setParams] = useSearchParams();
  const folder = params.get("folder") ?? "";
  const q = params.get("q") ?? "";
  const kind = params.get("type") ?? "";
  const view = params.get("view") === "list" ? "list" : "grid";
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  // Bumped after an upload or a change to an item: the page of files is asked anew.
  const [version, setVersion] = useState(0);
  const folders = useLoad(() => client.get<{ data: MediaFolder[] }>("/media/folders").then((r) => r.data), [client]);
  const items = useLoad(() => {
    const s = new URLSearchParams({ limit: String(PAGE_SIZE), page: String(page) });
    if (folder) s.set("folder", folder);
    if (q) s.set("q", q);
    if (kind) s.set("type", kind);
    return client.get<MediaPage>(`/media?${s}`);
  }, [client, folder, q, kind, page, version]);
  // What an upload or a folder's deletion ran into; it goes when the editor moves on.
  const [problem, setProblem] = useState<unknown>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [report, setReport] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [open, setOpen] = useState<MediaItem | null>(null);
  const [asking, setAsking] = useState<"new" | "rename" | "delete" | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const canUpload = !!user?.permissions?.media.includes("create");
  const folderList = folders.data ?? [];
  const current = folderList.find((f) => f.id === folder);
  const locales = useMemo(() => siteLocales(types ?? []), [types]);

  const set = useCallback(
    (changes: Record<string, string | null>) => {
      setProblem(null);
      setParams(changedQuery(changes, window.location.search));
    },
    [setParams],
  );

  const upload = async (files: File[]) => {
    if (!files.length || !canUpload) return;
    setReport(null);
    setProblem(null);
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
      setVersion((n) => n + 1);
    } catch (e) {
      setProblem(e);
    } finally {
      setProgress(null);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void upload(Array.from(e.dataTransfer.files));
  };

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
      <ErrorMessage error={problem || items.error || folders.error} />

      <div className="library-body">
        <FolderNav
          folders={folderList}
          folder={folder}
          canEdit={canUpload}
          onOpen={(f) => set({ folder: f })}
          onAsk={setAsking}
        />
        <Files
          items={items.data}
          failed={!!items.error}
          q={q}
          kind={kind}
          view={view}
          page={page}
          onAsk={set}
          onOpen={setOpen}
        />
      </div>

      {open ? (
        <MediaDetails
          item={open}
          folders={folderList}
          locales={locales}
          types={types ?? []}
          onClose={() => setOpen(null)}
          onChanged={() => setVersion((n) => n + 1)}
        />
      ) : null}
      {asking === "new" || asking === "rename" ? (
        <FolderNameDialog
          title={
            asking === "new"
              ? current
                ? `New folder in ${current.name}`
                : "New folder"
              : `Rename ${current?.name ?? ""}`
          }
          initial={asking === "rename" ? (current?.name ?? "") : ""}
          onCancel={() => setAsking(null)}
          onSave={async (name) => {
            if (asking === "new") {
              await client.post("/media/folders", { name, parent: current?.id ?? null });
            } else if (current) {
              await client.patch(`/media/folders/${current.id}`, { name, parent: current.parent });
            }
            setAsking(null);
            folders.reload();
          }}
        />
      ) : null}
      {asking === "delete" && current ? (
        <Confirm
          title={`Delete the folder ${current.name}?`}
          body="Only an empty folder can be deleted; move or delete its files and folders first."
          confirm="Delete folder"
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            setAsking(null);
            client
              .delete(`/media/folders/${current.id}`)
              .then(() => {
                set({ folder: current.parent ?? null });
                folders.reload();
              })
              .catch(setProblem);
          }}
        />
      ) : null}
    </div>
  );
}
