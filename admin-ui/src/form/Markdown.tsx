// A Markdown field: a toolbar that wraps the selection, the text, and a live preview the
// server renders exactly as the delivery API's `render=html` would (sanitised there, so the
// preview never runs what an entry contains).

import { useEffect, useRef, useState } from "react";
import { useForm } from "./context";

interface Common {
  id: string;
  disabled: boolean;
  "aria-invalid"?: boolean;
  "aria-describedby"?: string;
}

/** A toolbar action: text around the selection, or before each selected line. */
type Edit = { wrap: [string, string]; placeholder: string } | { prefix: string; placeholder: string };

const TOOLS: { label: string; key?: string; text: string; edit: Edit }[] = [
  { label: "Bold", key: "b", text: "B", edit: { wrap: ["**", "**"], placeholder: "bold text" } },
  { label: "Italic", key: "i", text: "I", edit: { wrap: ["_", "_"], placeholder: "italic text" } },
  { label: "Heading", text: "H", edit: { prefix: "## ", placeholder: "Heading" } },
  { label: "Link", key: "k", text: "Link", edit: { wrap: ["[", "](https://)"], placeholder: "link text" } },
  { label: "Bulleted list", text: "•", edit: { prefix: "- ", placeholder: "item" } },
  { label: "Numbered list", text: "1.", edit: { prefix: "1. ", placeholder: "item" } },
  { label: "Quote", text: "❝", edit: { prefix: "> ", placeholder: "quote" } },
  { label: "Code", text: "</>", edit: { wrap: ["`", "`"], placeholder: "code" } },
];

/** The text with `edit` applied to `[start, end)`, and the new selection. */
export function applyEdit(
  text: string,
  start: number,
  end: number,
  edit: Edit,
): { text: string; start: number; end: number } {
  const selected = text.slice(start, end) || edit.placeholder;
  if ("wrap" in edit) {
    const [before, after] = edit.wrap;
    const out = text.slice(0, start) + before + selected + after + text.slice(end);
    return { text: out, start: start + before.length, end: start + before.length + selected.length };
  }
  // Line prefixes apply from the start of the first selected line.
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  const block = text.slice(lineStart, end) || edit.placeholder;
  const prefixed = block
    .split("\n")
    .map((line) => edit.prefix + line)
    .join("\n");
  const out = text.slice(0, lineStart) + prefixed + text.slice(Math.max(end, lineStart));
  return { text: out, start: lineStart, end: lineStart + prefixed.length };
}

export function MarkdownEditor({
  common,
  value,
  onChange,
  label,
}: {
  common: Common;
  value: string;
  onChange: (v: string) => void;
  label: string;
}) {
  const { client } = useForm();
  const area = useRef<HTMLTextAreaElement>(null);
  const [showPreview, setShowPreview] = useState(true);
  const [html, setHtml] = useState<string>("");
  const [previewError, setPreviewError] = useState(false);

  useEffect(() => {
    if (!showPreview) return;
    if (!value.trim()) {
      setHtml("");
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      client
        .post<{ data: { html: string } }>("/markdown/preview", { markdown: value })
        .then((r) => {
          if (live) {
            setHtml(r.data.html);
            setPreviewError(false);
          }
        })
        .catch(() => live && setPreviewError(true));
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, value, showPreview]);

  const run = (edit: Edit) => {
    const el = area.current;
    if (!el) return;
    const r = applyEdit(value, el.selectionStart, el.selectionEnd, edit);
    onChange(r.text);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(r.start, r.end);
    });
  };

  return (
    <div className={`markdown${showPreview ? " with-preview" : ""}`}>
      <div className="toolbar" role="toolbar" aria-label={`${label} formatting`}>
        {TOOLS.map((t) => (
          <button
            key={t.label}
            type="button"
            className="tool"
            title={t.key ? `${t.label} (Ctrl+${t.key.toUpperCase()})` : t.label}
            disabled={common.disabled}
            onClick={() => run(t.edit)}
          >
            <span aria-hidden="true">{t.text}</span>
            <span className="visually-hidden">{t.label}</span>
          </button>
        ))}
        <button
          type="button"
          className="tool preview-toggle"
          aria-pressed={showPreview}
          onClick={() => setShowPreview((s) => !s)}
        >
          Preview
        </button>
      </div>
      <div className="panes">
        <textarea
          {...common}
          ref={area}
          className="mono"
          rows={14}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={(e) => {
            if (!(e.ctrlKey || e.metaKey)) return;
            const tool = TOOLS.find((t) => t.key === e.key.toLowerCase());
            if (tool) {
              e.preventDefault();
              run(tool.edit);
            }
          }}
        />
        {showPreview ? (
          <div className="preview" aria-label={`${label} preview`} role="region" aria-live="polite">
            {previewError ? (
              <p className="muted">The preview is not available right now.</p>
            ) : html ? (
              // Sanitised by the server (the same cleaning as the delivery API's render=html).
              <div dangerouslySetInnerHTML={{ __html: html }} />
            ) : (
              <p className="muted">Nothing to preview yet.</p>
            )}
          </div>
        ) : null}
      </div>
    </div>
  );
}
