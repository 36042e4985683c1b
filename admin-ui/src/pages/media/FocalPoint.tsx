// An image's preview with its focal point: the point crops keep in view, picked by clicking
// the image or typed as percentages across and down; none means the centre.

import type { MouseEvent } from "react";

export type Focal = { x: number; y: number } | null;

export function FocalPoint({
  src,
  alt,
  focal,
  canEdit,
  onFocal,
}: {
  src: string;
  alt: string;
  focal: Focal;
  canEdit: boolean;
  onFocal: (focal: Focal) => void;
}) {
  const pick = (e: MouseEvent<HTMLDivElement>) => {
    if (!canEdit) return;
    const box = e.currentTarget.getBoundingClientRect();
    const round = (n: number) => Math.round(Math.min(1, Math.max(0, n)) * 100) / 100;
    onFocal({ x: round((e.clientX - box.left) / box.width), y: round((e.clientY - box.top) / box.height) });
  };

  return (
    <>
      <div
        className={`focal-picker${canEdit ? " editable" : ""}`}
        onClick={pick}
        role="presentation"
        title={canEdit ? "Click the part of the image that crops should keep" : undefined}
      >
        <img src={src} alt={alt} />
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
              onChange={(e) => onFocal({ x: Number(e.target.value) / 100, y: focal?.y ?? 0.5 })}
            />
          </label>
          <label>
            Down (%)
            <input
              type="number"
              min={0}
              max={100}
              value={focal ? Math.round(focal.y * 100) : ""}
              onChange={(e) => onFocal({ x: focal?.x ?? 0.5, y: Number(e.target.value) / 100 })}
            />
          </label>
          <button type="button" className="secondary" onClick={() => onFocal(null)} disabled={!focal}>
            Centre
          </button>
        </div>
      </fieldset>
    </>
  );
}
