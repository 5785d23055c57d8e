// A few sentences for `refit demo` to predict after training: written in the demo's domain but not
// produced by its templates, with the relation a reader would give. Table only.

/** Prediction inputs (head/tail are substrings of text) and the expected relation. */
export const DEMO_PREDICT_INPUTS: ReadonlyArray<{
  text: string;
  head: string;
  tail: string;
  expected: string;
}> = [
  {
    text: 'Maya Okafor was born in Porto and works for Lumora.',
    head: 'Maya Okafor',
    tail: 'Porto',
    expected: 'born_in',
  },
  {
    text: 'Maya Okafor was born in Porto and works for Lumora.',
    head: 'Maya Okafor',
    tail: 'Lumora',
    expected: 'works_for',
  },
  { text: 'Lisbon is the capital of Portugal.', head: 'Lisbon', tail: 'Portugal', expected: 'capital_of' },
  { text: 'Lisbon is the capital of Portugal.', head: 'Portugal', tail: 'Lisbon', expected: 'no_relation' },
  {
    text: 'Kestrel Air was founded by Hana Sato in 1994.',
    head: 'Kestrel Air',
    tail: 'Hana Sato',
    expected: 'founded_by',
  },
  {
    text: 'Tidewell has its headquarters in Bergen.',
    head: 'Tidewell',
    tail: 'Bergen',
    expected: 'headquartered_in',
  },
  {
    text: 'Igor Varga visited Kyoto last summer.',
    head: 'Igor Varga',
    tail: 'Kyoto',
    expected: 'no_relation',
  },
];
