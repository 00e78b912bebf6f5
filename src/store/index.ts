export type * from './types.js';
export { StoreBase } from './base.js';
export { withNamespace } from './namespace.js';
export { openStore, STORE_URL_FORMS, type OpenStoreOptions } from './open.js';
export { compareKeys } from './keys.js';
