// The entry form's widgets: one per field type, generated from the specs `model.ts` reads out
// of the content type's JSON Schema. Every control is labelled, says what is wrong with it
// next to it (`aria-describedby`), and edits a plain JSON value the form owns.

import { useEffect, useId, useState, type ReactNode } from "react";
import { controlId, useForm } from "./context";
import { MarkdownEditor } from "./Markdown";
import { MediaPicker } from "./MediaPicker";
import { RelationPicker } from "./RelationPicker";
import { type FieldSpec, type Fields, fromLocalInput, getIn, newItem, pathOf, slugify, toLocalInput } from "./model";

/** The fields of an object (the entry, a group, a repeater item), in order. */
export function FieldList({
  specs,
  at,
  value,
  onChange,
}: {
  specs: FieldSpec[];
  at: (string | number)[];
  value: Fields;
  onChange: (v: Fields) => void;
}) {
  return (
    <>
      {specs.map((spec) => (
        <FieldView
          key={spec.name}
          spec={spec}
          at={[...at, spec.name]}
          value={value[spec.name]}
          onChange={(v) => onChange({ ...value, [spec.name]: v })}
        />
      ))}
    </>
  );
}

/** One field: a localised one shows (and edits) the current locale's value. */
export function FieldView({
  spec,
  at,
  value,
  onChange,
}: {
  spec: FieldSpec;
  at: (string | number)[];
  value: unknown;
  onChange: (v: unknown) => void;
}) {
  const form = useForm();
  if (spec.localized && form.locales.length) {
    const per = value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    const locale = form.locale;
    return (
      <Widget
        spec={spec}
        at={[...at, locale]}
        value={per[locale] ?? null}
        onChange={(v) => onChange({ ...per, [locale]: v })}
        localeNote={locale}
        fieldPath={pathOf(at)}
      />
    );
  }
  return <Widget spec={spec} at={at} value={value} onChange={onChange} />;
}

function Widget({
  spec,
  at,
  value,
  onChange,
  localeNote,
  fieldPath,
}: {
  spec: FieldSpec;
  at: (string | number)[];
  value: unknown;
  onChange: (v: unknown) => void;
  localeNote?: string;
  /** For one locale of a localised field: the whole field's path, whose errors show here too. */
  fieldPath?: string;
}) {
  const form = useForm();
  const path = pathOf(at);
  const id = controlId(path);
  const error = form.errors[path] ?? (fieldPath ? form.errors[fieldPath] : undefined);
  const errorId = `${id}-error`;
  const helpId = `${id}-help`;
  const top = at[0];
  const disabled = form.readOnly || (typeof top === "string" && form.readOnlyFields.includes(top));
  const describedBy = [error ? errorId : null, spec.description ? helpId : null].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    disabled,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy,
    "aria-required": spec.required && (!spec.localized || form.locale === form.locales[0]) ? true : undefined,
  };
  const label = (
    <>
      {spec.label}
      {spec.required && (!spec.localized || form.locale === form.locales[0]) ? (
        <span className="req" aria-hidden="true">
          {" "}
          *
        </span>
      ) : null}
      {localeNote ? <span className="locale-note"> ({localeNote})</span> : null}
    </>
  );
  const help = spec.description ? (
    <span id={helpId} className="help">
      {spec.description}
    </span>
  ) : null;
  const err = error ? (
    <span id={errorId} className="field-error">
      {error}
    </span>
  ) : null;
  const text = typeof value === "string" ? value : value === null || value === undefined ? "" : String(value);

  const frame = (control: ReactNode, wide = false) => (
    <div className={`field field-${spec.kind}${wide ? " wide" : ""}${error ? " has-error" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {help}
      {control}
      {err}
    </div>
  );

  switch (spec.kind) {
    case "text":
    case "email":
    case "url":
      return frame(
        <input
          {...common}
          type={spec.kind === "text" ? "text" : spec.kind}
          value={text}
          maxLength={spec.maxLength}
          onChange={(e) => onChange(e.target.value)}
        />,
      );
    case "uid":
      return frame(<UidInput spec={spec} common={common} value={text} onChange={onChange} at={at} />);
    case "long_text":
      return frame(
        <textarea
          {...common}
          rows={4}
          value={text}
          maxLength={spec.maxLength}
          onChange={(e) => onChange(e.target.value)}
        />,
      );
    case "markdown":
      return frame(<MarkdownEditor common={common} value={text} onChange={onChange} label={spec.label} />, true);
    case "integer":
    case "float":
      return frame(
        <input
          {...common}
          type="number"
          inputMode={spec.kind === "integer" ? "numeric" : "decimal"}
          step={spec.kind === "integer" ? 1 : "any"}
          min={spec.min}
          max={spec.max}
          value={text}
          onChange={(e) => onChange(e.target.value)}
        />,
      );
    case "boolean":
      return (
        <div className={`field field-boolean${error ? " has-error" : ""}`}>
          <label htmlFor={id} className="check">
            <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
            {label}
          </label>
          {help}
          {err}
        </div>
      );
    case "datetime":
      return frame(
        <input
          {...common}
          type="datetime-local"
          value={toLocalInput(value)}
          onChange={(e) => onChange(fromLocalInput(e.target.value))}
        />,
      );
    case "date":
      return frame(<input {...common} type="date" value={text} onChange={(e) => onChange(e.target.value || null)} />);
    case "enum":
      return frame(
        <select {...common} value={text} onChange={(e) => onChange(e.target.value || null)}>
          {!spec.required || !text ? <option value="">—</option> : null}
          {(spec.values ?? []).map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>,
      );
    case "json":
      return frame(<JsonInput common={common} path={path} value={value} onChange={onChange} />, true);
    case "relation":
      return frame(
        <RelationPicker
          id={id}
          label={spec.label}
          client={form.client}
          target={spec.target ?? ""}
          types={form.types}
          many={spec.many}
          max={spec.maxItems}
          value={value}
          disabled={disabled}
          describedBy={describedBy}
          onChange={onChange}
        />,
        true,
      );
    case "media":
      return frame(
        <MediaPicker
          id={id}
          label={spec.label}
          many={spec.many}
          max={spec.maxItems}
          accept={spec.accept ?? []}
          field={at.length === 1 && typeof top === "string" ? `${form.typeId}.${top}` : undefined}
          value={value}
          disabled={disabled}
          describedBy={describedBy}
          onChange={onChange}
        />,
        true,
      );
    case "group":
      return (
        <fieldset className={`group${error ? " has-error" : ""}`} aria-describedby={describedBy}>
          <legend>{label}</legend>
          {help}
          {err}
          <FieldList
            specs={spec.fields ?? []}
            at={at}
            value={value && typeof value === "object" ? (value as Fields) : {}}
            onChange={onChange}
          />
        </fieldset>
      );
    case "repeater":
      return (
        <Repeater
          spec={spec}
          at={at}
          items={Array.isArray(value) ? (value as Fields[]) : []}
          onChange={onChange}
          label={label}
          help={help}
          err={err}
          describedBy={describedBy}
          disabled={disabled}
        />
      );
  }
}

type Common = {
  id: string;
  disabled: boolean;
  "aria-invalid"?: boolean;
  "aria-describedby"?: string;
  "aria-required"?: boolean;
};

/** A slug, with a button that makes one from the source field as the server would. */
function UidInput({
  spec,
  common,
  value,
  onChange,
  at,
}: {
  spec: FieldSpec;
  common: Common;
  value: string;
  onChange: (v: unknown) => void;
  at: (string | number)[];
}) {
  const form = useForm();
  // The source is a sibling: same object, other name.
  const source = spec.from ? getIn(form.values, [...at.slice(0, -1), spec.from]) : undefined;
  const sourceText =
    typeof source === "string"
      ? source
      : source && typeof source === "object"
        ? String((source as Record<string, unknown>)[form.locales[0] ?? ""] ?? "")
        : "";
  return (
    <div className="inline">
      <input
        {...common}
        type="text"
        value={value}
        maxLength={spec.maxLength}
        placeholder={spec.from ? `Made from ${spec.from} when left empty` : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {spec.from ? (
        <button
          type="button"
          className="secondary"
          disabled={common.disabled || !sourceText.trim()}
          onClick={() => onChange(slugify(sourceText))}
        >
          Generate
        </button>
      ) : null}
    </div>
  );
}

/** Any JSON: edited as text, a value only once it parses. */
function JsonInput({
  common,
  path,
  value,
  onChange,
}: {
  common: Common;
  path: string;
  value: unknown;
  onChange: (v: unknown) => void;
}) {
  const { setInvalid } = useForm();
  const show = (v: unknown) => (v === null || v === undefined ? "" : JSON.stringify(v, null, 2));
  const [text, setText] = useState(() => show(value));
  const [problem, setProblem] = useState<string | null>(null);
  const problemId = useId();
  // A value replaced from outside (a reload, a restored draft) replaces the text.
  useEffect(() => {
    setText((t) => {
      try {
        if (t.trim() && JSON.stringify(JSON.parse(t)) === JSON.stringify(value)) return t;
      } catch {
        // the text is being edited; keep it unless the value changed under it
      }
      return show(value);
    });
  }, [value]);
  useEffect(() => () => setInvalid(path, null), [path, setInvalid]);
  return (
    <>
      <textarea
        {...common}
        className="mono"
        rows={6}
        spellCheck={false}
        value={text}
        aria-invalid={problem || common["aria-invalid"] ? true : undefined}
        aria-describedby={
          [common["aria-describedby"], problem ? problemId : null].filter(Boolean).join(" ") || undefined
        }
        onChange={(e) => {
          const t = e.target.value;
          setText(t);
          if (!t.trim()) {
            setProblem(null);
            setInvalid(path, null);
            onChange(null);
            return;
          }
          try {
            const parsed: unknown = JSON.parse(t);
            setProblem(null);
            setInvalid(path, null);
            onChange(parsed);
          } catch (err) {
            const message = `Not valid JSON: ${err instanceof Error ? err.message : "syntax error"}`;
            setProblem(message);
            setInvalid(path, message);
          }
        }}
      />
      {problem ? (
        <span id={problemId} className="field-error">
          {problem}
        </span>
      ) : null}
    </>
  );
}

function Repeater({
  spec,
  at,
  items,
  onChange,
  label,
  help,
  err,
  describedBy,
  disabled,
}: {
  spec: FieldSpec;
  at: (string | number)[];
  items: Fields[];
  onChange: (v: unknown) => void;
  label: ReactNode;
  help: ReactNode;
  err: ReactNode;
  describedBy?: string;
  disabled: boolean;
}) {
  const form = useForm();
  const specs = spec.fields ?? [];
  const full = spec.maxItems !== undefined && items.length >= spec.maxItems;
  const move = (from: number, to: number) => {
    const next = [...items];
    const [item] = next.splice(from, 1);
    if (item) next.splice(to, 0, item);
    onChange(next);
  };
  return (
    <fieldset className="group repeater" aria-describedby={describedBy}>
      <legend>{label}</legend>
      {help}
      {err}
      {items.length === 0 ? <p className="muted">None yet.</p> : null}
      <ol className="items">
        {items.map((item, i) => (
          <li key={i} className="item">
            <div className="item-bar">
              <span>
                {spec.label} {i + 1}
              </span>
              <span className="item-actions">
                <button
                  type="button"
                  className="secondary small"
                  disabled={disabled || i === 0}
                  aria-label={`Move ${spec.label} ${i + 1} up`}
                  onClick={() => move(i, i - 1)}
                >
                  ↑
                </button>
                <button
                  type="button"
                  className="secondary small"
                  disabled={disabled || i === items.length - 1}
                  aria-label={`Move ${spec.label} ${i + 1} down`}
                  onClick={() => move(i, i + 1)}
                >
                  ↓
                </button>
                <button
                  type="button"
                  className="danger small"
                  disabled={disabled}
                  aria-label={`Remove ${spec.label} ${i + 1}`}
                  onClick={() => onChange(items.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </span>
            </div>
            <FieldList
              specs={specs}
              at={[...at, i]}
              value={item ?? {}}
              onChange={(v) => onChange(items.map((x, j) => (j === i ? v : x)))}
            />
          </li>
        ))}
      </ol>
      <button
        type="button"
        className="secondary"
        disabled={disabled || full}
        onClick={() => onChange([...items, newItem(specs, form.locales)])}
      >
        Add {spec.label.toLowerCase()}
      </button>
    </fieldset>
  );
}
