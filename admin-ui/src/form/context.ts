// What the widgets of one entry form share, through React context.

import { createContext, useContext } from "react";
import type { Client, ContentTypeSummary } from "../api/client";
import type { Fields } from "./model";

/** What every widget of one form shares. */
export interface FormContextValue {
  client: Client;
  types: ContentTypeSummary[];
  /** The content type being edited (for upload checks against its media fields). */
  typeId: string;
  locales: string[];
  /** The locale localised fields show. */
  locale: string;
  /** The whole form's values, for a uid's source field. */
  values: Fields;
  /** Server validation messages by path (`fields.seo.meta_title`). */
  errors: Record<string, string>;
  /** The editor may not change anything (no update permission). */
  readOnly: boolean;
  /** Top-level fields the editor's role may not change. */
  readOnlyFields: string[];
  /** A widget holding text that is not a valid value yet (JSON), by path; `null` clears. */
  setInvalid: (path: string, message: string | null) => void;
}

export const FormContext = createContext<FormContextValue | null>(null);

export function useForm(): FormContextValue {
  const f = useContext(FormContext);
  if (!f) throw new Error("form widgets outside FormContext");
  return f;
}

/** The DOM id of a field's control, from its path (also the anchor of the error summary). */
export function controlId(path: string): string {
  return "f-" + path.replace(/[^A-Za-z0-9_-]+/g, "-");
}
