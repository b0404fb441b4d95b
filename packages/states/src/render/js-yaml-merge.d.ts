// js-yaml 4 exports its built-in types (the merge key among them) as `types`;
// @types/js-yaml 4.0.9 does not declare that export.
import type { Type } from 'js-yaml';

declare module 'js-yaml' {
  export const types: { readonly merge: Type };
}
