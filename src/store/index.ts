export type * from './types.js';
export { withNamespace } from './namespace.js';
export { openStore, STORE_URL_FORMS, type OpenStoreOptions } from './open.js';
