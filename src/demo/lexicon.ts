// Entity lexicons and filler words of the demo dataset, written for refit (not copied from any corpus).
// Tables only, no logic. Capitals are real (capital, country) pairs; companies are invented.

/** First names (no name that is also a city or country). */
export const FIRST_NAMES: readonly string[] = [
  'Alice', 'Bruno', 'Carla', 'Daniel', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kara', 'Liam', 'Maya',
  'Nikolai', 'Olga', 'Pedro', 'Quinn', 'Rosa', 'Samir', 'Tara', 'Umar', 'Vera', 'Wei', 'Xenia', 'Yusuf', 'Zoe',
  'Anton', 'Beatriz', 'Chen', 'Dora', 'Emil', 'Fatima', 'Gustav', 'Hana', 'Igor', 'Julia', 'Kofi', 'Lena', 'Marco', 'Nadia',
];

/** Family names. */
export const LAST_NAMES: readonly string[] = [
  'Smith', 'Novak', 'Garcia', 'Tanaka', 'Kowalski', 'Haddad', 'Okafor', 'Larsen', 'Moreau', 'Rossi', 'Silva', 'Petrov',
  'Nguyen', 'Fischer', 'Jensen', 'Costa', 'Schmidt', 'Ivanov', 'Murphy', 'Santos', 'Weber', 'Kim', 'Patel', 'Lopez',
  'Becker', 'Dubois', 'Nakamura', 'Olsen', 'Popescu', 'Reyes', 'Sato', 'Varga', 'Wagner', 'Yilmaz', 'Zhang', 'Andersen',
  'Bianchi', 'Castro', 'Eriksson', 'Mendes',
];

/** Cities that are not national capitals. */
export const CITIES: readonly string[] = [
  'Lyon', 'Porto', 'Osaka', 'Munich', 'Krakow', 'Seville', 'Turin', 'Bergen', 'Gothenburg', 'Aarhus', 'Ghent', 'Utrecht',
  'Graz', 'Zurich', 'Cork', 'Leeds', 'Toronto', 'Chicago', 'Denver', 'Melbourne', 'Auckland', 'Busan', 'Kyoto', 'Pune',
  'Cebu', 'Medan', 'Mombasa', 'Lagos', 'Casablanca', 'Alexandria', 'Izmir', 'Tampere', 'Brno', 'Cluj', 'Split', 'Plovdiv',
  'Tartu', 'Kaunas', 'Valencia', 'Hamburg',
];

/** Real (capital, country) pairs. */
export const CAPITALS: ReadonlyArray<readonly [string, string]> = [
  ['Paris', 'France'], ['Madrid', 'Spain'], ['Lisbon', 'Portugal'], ['Rome', 'Italy'], ['Berlin', 'Germany'],
  ['Vienna', 'Austria'], ['Warsaw', 'Poland'], ['Prague', 'Czechia'], ['Budapest', 'Hungary'], ['Athens', 'Greece'],
  ['Oslo', 'Norway'], ['Stockholm', 'Sweden'], ['Helsinki', 'Finland'], ['Copenhagen', 'Denmark'], ['Dublin', 'Ireland'],
  ['Brussels', 'Belgium'], ['Amsterdam', 'the Netherlands'], ['Bern', 'Switzerland'], ['Tokyo', 'Japan'],
  ['Seoul', 'South Korea'], ['Hanoi', 'Vietnam'], ['Bangkok', 'Thailand'], ['Jakarta', 'Indonesia'], ['Manila', 'the Philippines'],
  ['Nairobi', 'Kenya'], ['Accra', 'Ghana'], ['Cairo', 'Egypt'], ['Rabat', 'Morocco'], ['Lima', 'Peru'], ['Bogota', 'Colombia'],
  ['Santiago', 'Chile'], ['Ottawa', 'Canada'], ['Canberra', 'Australia'], ['Wellington', 'New Zealand'], ['Ankara', 'Turkey'],
  ['Tallinn', 'Estonia'], ['Riga', 'Latvia'], ['Vilnius', 'Lithuania'], ['Bucharest', 'Romania'], ['Zagreb', 'Croatia'],
];

/** Invented company names. */
export const COMPANIES: readonly string[] = [
  'Norvex', 'Altura Labs', 'Brightwell Foods', 'Castellan Motors', 'Deltaris', 'Emberline', 'Fjordsoft', 'Greywater Energy',
  'Halcyon Media', 'Ironleaf', 'Juniper Robotics', 'Kestrel Air', 'Lumora', 'Meridian Bank', 'Nimbus Games', 'Orchid Pharma',
  'Pinecrest Textiles', 'Quarry Digital', 'Redfern Shipping', 'Solstice Health', 'Tidewell', 'Umbra Optics', 'Vantor',
  'Westbrook Steel', 'Xylo Audio', 'Yarrow Seeds', 'Zenith Tools', 'Amberly Insurance', 'Bluefin Logistics', 'Corvid Security',
  'Driftwood Hotels', 'Evergale Wind', 'Foxglove Books', 'Glimmer Toys', 'Harbor Mills', 'Indigo Paints', 'Jetstream Rail',
  'Kindred Care', 'Larkspur Apparel', 'Moonstone Mining',
];

/** Jobs (all take the article "a"). */
export const JOBS: readonly string[] = ['designer', 'manager', 'chemist', 'writer', 'nurse', 'driver', 'teacher', 'pilot', 'baker', 'planner', 'tester', 'lawyer'];
/** Team names. */
export const TEAMS: readonly string[] = ['sales', 'research', 'design', 'support', 'legal', 'finance'];
/** Years used in sentences (also vocabulary words). */
export const YEARS: readonly string[] = Array.from({ length: 70 }, (_, i) => String(1950 + i));
/** Small counts used in sentences (also vocabulary words). */
export const COUNTS: readonly string[] = Array.from({ length: 29 }, (_, i) => String(2 + i));
