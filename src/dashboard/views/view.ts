/**
 * One section of the dashboard page: its place in the page's HTML, and the browser code that
 * redraws it from each frame. The page (page.ts) lays the views out in order and calls each one's
 * `render(frame)`; a new section is one more file here and one more entry in page.ts's list.
 *
 * The browser code of a view is a string of plain JavaScript, run in the page after the shared
 * helpers of page.ts (`el`, `table`, `chip`, `colour`, `fill`, `time`, `plot`) are defined. It
 * ends by registering itself: `views.push({ render(s) { ... } })`. Store data reaches the page
 * only through textContent (the helpers never set HTML).
 */
export interface PageView {
  /** The section's element id. */
  readonly id: string;
  /** Its heading. */
  readonly title: string;
  /** The section's inner HTML below its heading (static markup only, never data). */
  readonly html: string;
  /** Browser code that ends with `views.push({ render(s) { ... } })`. */
  readonly script: string;
  /** Style rules of this view. */
  readonly style?: string;
  /** A view hidden until its render shows it (the demo's). @default false */
  readonly hidden?: boolean;
  /** Spans the page's whole width. @default false */
  readonly wide?: boolean;
}
