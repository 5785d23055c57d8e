// The one example type every reader yields, and the relation set. Pure types: no I/O, no tokenization.

/** An entity mention: its surface text and character span in `Example.text` (end exclusive, UTF-16 code units). */
export interface Mention {
  text: string;
  start: number;
  end: number;
  /** Entity type when the data carries one (never derived from the relation: DeepKE's label leak). */
  type?: string;
}

/**
 * One relation example as read from a file; `file` and `line` point at where it came from (line is 1-based,
 * physical).
 */
export interface Example {
  text: string;
  head: Mention;
  tail: Mention;
  /** Gold relation name; absent for unlabelled prediction input. */
  relation?: string;
  file: string;
  line: number;
  /** True when the offset given in the file did not point at the entity and the nearest occurrence was used. */
  offset_fallback?: boolean;
  /** With offset_fallback: which offset missed, as one line (prediction input makes it the row's error). */
  offset_problem?: string;
}

/** The ordered relation names of a dataset, with the NA label if it has one. Index = label id. */
export interface RelationSet {
  names: string[];
  na_label: string | null;
}
