/** Names the demo's workers use in the store. */
export const DEMO_ELECTION = 'demo-leader';
export const DEMO_LOCK = 'demo-counter';
export const DEMO_GROUP = 'demo';
