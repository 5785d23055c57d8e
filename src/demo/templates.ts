// Sentence templates of the demo dataset: each names its entity slots and the labelled (head, tail,
// relation) pairs it can yield. Reversed pairs are `no_relation`, so the direction must be learnt.
// Table only, no logic. Slots: P/P2 person, C company, CITY/CITY2 city, CAP capital with CAPOF its
// country, CTRY another country, Y year, N count, JOB, TEAM.

/** The demo's NA label. */
export const DEMO_NA_LABEL = 'no_relation';

/** The demo's relations in label-id order (NA first, as in DeepKE's relation.csv). */
export const DEMO_RELATIONS: readonly string[] = [
  DEMO_NA_LABEL,
  'born_in',
  'works_for',
  'founded_by',
  'capital_of',
  'headquartered_in',
];

/** A sentence template and the (head slot, tail slot, relation) facts it states. */
export interface Template {
  text: string;
  facts: ReadonlyArray<readonly [string, string, string]>;
}

const NA = DEMO_NA_LABEL;

/** Every template. */
export const TEMPLATES: readonly Template[] = [
  // born_in (person → city)
  {
    text: '{P} was born in {CITY}.',
    facts: [
      ['P', 'CITY', 'born_in'],
      ['CITY', 'P', NA],
    ],
  },
  {
    text: '{P} was born in {CITY} in {Y}.',
    facts: [
      ['P', 'CITY', 'born_in'],
      ['CITY', 'P', NA],
    ],
  },
  {
    text: 'Born in {CITY}, {P} later moved abroad.',
    facts: [
      ['P', 'CITY', 'born_in'],
      ['CITY', 'P', NA],
    ],
  },
  {
    text: '{CITY} is the birthplace of {P}.',
    facts: [
      ['P', 'CITY', 'born_in'],
      ['CITY', 'P', NA],
    ],
  },
  { text: '{P}, a native of {CITY}, studied law.', facts: [['P', 'CITY', 'born_in']] },
  { text: 'The singer {P} was born and raised in {CITY}.', facts: [['P', 'CITY', 'born_in']] },
  // person / city, no relation
  { text: '{P} visited {CITY} last summer.', facts: [['P', 'CITY', NA]] },
  { text: '{P} gave a talk in {CITY} in {Y}.', facts: [['P', 'CITY', NA]] },
  { text: '{P} wrote a novel about {CITY}.', facts: [['P', 'CITY', NA]] },
  { text: '{P} has never been to {CITY}.', facts: [['P', 'CITY', NA]] },
  { text: 'Last year {P} flew to {CITY} for a conference.', facts: [['P', 'CITY', NA]] },
  // works_for (person → company)
  {
    text: '{P} works for {C}.',
    facts: [
      ['P', 'C', 'works_for'],
      ['C', 'P', NA],
    ],
  },
  { text: '{P} is a {JOB} at {C}.', facts: [['P', 'C', 'works_for']] },
  {
    text: '{C} hired {P} as a {JOB} in {Y}.',
    facts: [
      ['P', 'C', 'works_for'],
      ['C', 'P', NA],
    ],
  },
  { text: '{P} joined {C} as a {JOB}.', facts: [['P', 'C', 'works_for']] },
  { text: '{P} has worked at {C} for {N} years.', facts: [['P', 'C', 'works_for']] },
  { text: 'At {C}, {P} leads the {TEAM} team.', facts: [['P', 'C', 'works_for']] },
  // person / company, no relation
  { text: '{P} bought shares of {C}.', facts: [['P', 'C', NA]] },
  { text: '{P} criticized {C} in an interview.', facts: [['P', 'C', NA]] },
  { text: '{P} once applied to {C} but was rejected.', facts: [['P', 'C', NA]] },
  { text: '{P} reviewed a product made by {C}.', facts: [['P', 'C', NA]] },
  // founded_by (company → person)
  { text: '{C} was founded by {P}.', facts: [['C', 'P', 'founded_by']] },
  { text: '{P} founded {C} in {Y}.', facts: [['C', 'P', 'founded_by']] },
  { text: '{P} started {C} in a small garage.', facts: [['C', 'P', 'founded_by']] },
  { text: '{C}, founded by {P}, now employs {N} thousand people.', facts: [['C', 'P', 'founded_by']] },
  { text: 'The founder of {C} is {P}.', facts: [['C', 'P', 'founded_by']] },
  // company / person, no relation
  { text: '{C} sent a letter to {P}.', facts: [['C', 'P', NA]] },
  { text: '{C} sued {P} over an unpaid bill.', facts: [['C', 'P', NA]] },
  { text: '{C} gave an award to {P} in {Y}.', facts: [['C', 'P', NA]] },
  // capital_of (capital → country)
  {
    text: '{CAP} is the capital of {CAPOF}.',
    facts: [
      ['CAP', 'CAPOF', 'capital_of'],
      ['CAPOF', 'CAP', NA],
    ],
  },
  {
    text: 'The capital of {CAPOF} is {CAP}.',
    facts: [
      ['CAP', 'CAPOF', 'capital_of'],
      ['CAPOF', 'CAP', NA],
    ],
  },
  {
    text: '{CAP}, the capital city of {CAPOF}, hosts the parliament.',
    facts: [['CAP', 'CAPOF', 'capital_of']],
  },
  { text: '{CAP} has been the capital of {CAPOF} for a long time.', facts: [['CAP', 'CAPOF', 'capital_of']] },
  {
    text: 'In {CAPOF}, the government sits in {CAP}.',
    facts: [
      ['CAP', 'CAPOF', 'capital_of'],
      ['CAPOF', 'CAP', NA],
    ],
  },
  // city / country, no relation
  { text: '{CITY} is far from {CTRY}.', facts: [['CITY', 'CTRY', NA]] },
  { text: '{CAP} hosted a football team from {CTRY}.', facts: [['CAP', 'CTRY', NA]] },
  { text: 'Flights from {CAP} to {CTRY} were cancelled.', facts: [['CAP', 'CTRY', NA]] },
  { text: '{CITY} signed a trade deal with {CTRY}.', facts: [['CITY', 'CTRY', NA]] },
  // headquartered_in (company → city)
  {
    text: '{C} is based in {CITY}.',
    facts: [
      ['C', 'CITY', 'headquartered_in'],
      ['CITY', 'C', NA],
    ],
  },
  {
    text: '{C} has its headquarters in {CITY}.',
    facts: [
      ['C', 'CITY', 'headquartered_in'],
      ['CITY', 'C', NA],
    ],
  },
  { text: 'The headquarters of {C} are in {CITY}.', facts: [['C', 'CITY', 'headquartered_in']] },
  {
    text: '{CITY} is home to {C}.',
    facts: [
      ['C', 'CITY', 'headquartered_in'],
      ['CITY', 'C', NA],
    ],
  },
  { text: '{C} opened its main office in {CITY} in {Y}.', facts: [['C', 'CITY', 'headquartered_in']] },
  // company / city, no relation
  { text: '{C} sells its products in {CITY}.', facts: [['C', 'CITY', NA]] },
  { text: '{C} held a press event in {CITY}.', facts: [['C', 'CITY', NA]] },
  { text: '{C} opened a small shop in {CITY}.', facts: [['C', 'CITY', NA]] },
  { text: '{C} plans to expand to {CITY}.', facts: [['C', 'CITY', NA]] },
  // several entities: the marked pair decides the relation
  {
    text: '{P}, who works for {C}, was born in {CITY}.',
    facts: [
      ['P', 'C', 'works_for'],
      ['P', 'CITY', 'born_in'],
      ['C', 'CITY', NA],
    ],
  },
  {
    text: '{C}, founded by {P}, is based in {CITY}.',
    facts: [
      ['C', 'P', 'founded_by'],
      ['C', 'CITY', 'headquartered_in'],
      ['P', 'CITY', NA],
    ],
  },
  {
    text: '{P} was born in {CITY} and later visited {CITY2}.',
    facts: [
      ['P', 'CITY', 'born_in'],
      ['P', 'CITY2', NA],
    ],
  },
  {
    text: '{P} met {P2} at an event hosted by {C}.',
    facts: [
      ['P', 'P2', NA],
      ['P2', 'C', NA],
    ],
  },
];
