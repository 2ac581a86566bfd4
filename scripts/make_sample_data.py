#!/usr/bin/env python
"""Write the small synthetic long-document summarization corpus shipped in data/sample/.

    python scripts/make_sample_data.py --seed 0 --out data/sample

Pure Python and seeded: the same seed and counts give the same bytes, so the shipped
files can be checked by regenerating them (tests/test_sample_data.py does).

What the corpus is for: a demo and tests of retrieve-then-summarize. Each record is a
news-like article of roughly 1500-2500 words (far beyond BART's 1024 source tokens).
The few sentences a summary needs ("key facts") are scattered through the document,
mostly after the part that truncation keeps, among plausible filler passages; so a
retriever that looks for the article's subject (bm25, centrality) covers much more of
the reference than truncation (lead) does. Summaries are short, one sentence per line,
built from a few recurring templates that copy entity names from the source, so a tiny
seq2seq model can learn them. Three kinds of record:

* single document (``document``), half of them with a ``title``;
* query-focused (``query``): the article covers two organisations, the query names one
  and the summary is about that one only;
* multi-document (``documents``): three shorter articles about the same organisation.
"""
import argparse
import json
import os
import random
import re
import sys

from summ_plugin.atomic import atomic_output

# --------------------------------------------------------------------------------------
# Vocabulary. Large filler vocabularies keep filler sentences dissimilar to each other,
# as real background text is; key facts share the organisation, place and project words.
# --------------------------------------------------------------------------------------
ORG_HEADS = [
    "Norvex", "Altamira", "Brightwell", "Castellan", "Dunmore", "Eastgate", "Fernhill",
    "Galbraith", "Harrowgate", "Ironbridge", "Juniper", "Kestrel", "Larkspur", "Meridian",
    "Northbrook", "Oakridge", "Pemberton", "Quillon", "Redfern", "Silverlake", "Thornbury",
    "Umbria", "Valemont", "Westmere", "Yarrow", "Zenthos", "Ashcombe", "Blackmoor",
    "Coldwater", "Drayton", "Elmstead", "Foxglove", "Greystone", "Hollister", "Ivory",
    "Jarrow", "Kingsley", "Lindqvist", "Marston", "Nettleton", "Orwell", "Prescott",
]
ORG_TAILS = [
    "Industries", "Energy", "Foods", "Motors", "Logistics", "Pharmaceuticals", "Textiles",
    "Robotics", "Steel", "Electronics", "Materials", "Systems", "Holdings", "Chemicals",
]
FIRST_NAMES = [
    "Alice", "Bernard", "Clara", "Daniel", "Elena", "Felix", "Grace", "Henry", "Irene",
    "James", "Karen", "Louis", "Maria", "Nathan", "Olivia", "Peter", "Rachel", "Samuel",
    "Teresa", "Victor", "Wendy", "Adrian", "Beatrice", "Colin", "Diana", "Edgar", "Fiona",
    "Gordon", "Helena", "Isaac", "Julia", "Kevin", "Laura", "Martin", "Nora", "Oscar",
]
LAST_NAMES = [
    "Abbott", "Barnes", "Caldwell", "Dalton", "Ellison", "Fletcher", "Garrison", "Hayward",
    "Ingram", "Jennings", "Keller", "Lambert", "Mercer", "Norris", "Osborne", "Palmer",
    "Quinn", "Rowland", "Sinclair", "Thornton", "Underwood", "Vaughan", "Whitaker",
    "Yates", "Ashford", "Bellamy", "Crowley", "Donovan", "Everett", "Fairbanks", "Gallagher",
]
CITIES = [
    "Riverton", "Lakeshore", "Millbrook", "Stonehaven", "Ashford Hills", "Clearwater",
    "Fairview", "Glenwood", "Harborview", "Kingsport", "Maplewood", "Northfield",
    "Pinecrest", "Redwood Falls", "Springdale", "Westfield", "Brookhaven", "Cedar Point",
    "Elmira", "Granite Bay", "Hollow Creek", "Oakdale", "Port Ellis", "Silver Springs",
]
FACILITIES = [
    "factory", "warehouse", "research center", "distribution hub", "battery plant",
    "data center", "assembly plant", "laboratory", "processing plant", "training campus",
]
PRODUCTS = [
    "electric bus batteries", "solar panels", "medical devices", "frozen vegetables",
    "steel beams", "wind turbine blades", "industrial robots", "vaccines", "paper packaging",
    "computer chips", "recycled plastics", "farm machinery", "water filters", "bicycle frames",
]
ROLES = ["chief executive", "chief financial officer", "chair", "president", "head of operations"]
RESOURCES = [
    "river", "local wetlands", "town's water supply", "forest reserve", "air quality",
    "fishing industry", "historic district", "farmland", "coastline", "wildlife corridor",
]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]

ADJECTIVES = """ancient bright broad busy calm careful cheerful colorful common crowded
curious damp dusty eager early elegant empty famous fragile gentle golden gradual grand
heavy hidden humble icy lively lonely loud modest muddy narrow noisy ordinary pale
peaceful plain polished popular quiet rare rocky rough rural rusty sandy seasonal shallow
sharp simple slow smooth sparse steady steep sturdy sunny tall tidy tiny uneven vast
vivid warm weathered wide windy wooden worn young""".split()
NOUNS = """bakery bench bridge canal cathedral cellar chapel choir cinema clock cottage
courtyard dairy dock fair ferry festival fountain garden gate harbor hedge hillside
library lighthouse market meadow mill monument museum orchard parade pavilion pier
playground pond quarry railway reservoir ridge school shrine stable stadium statue
street tavern terrace theater tower trail tram valley vineyard windmill workshop
apple bicycle boat candle carpet coat kettle lantern map piano quilt saddle sail
scarf tractor umbrella violin wagon anchor arcade attic balcony barn barrel basket
beacon belfry boathouse bookshop boulevard brewery brook cabin cafe carousel cart
chimney cistern cliff cloister corridor creek crossroads cupola dam doorway dovecote
drawbridge dune embankment estate fence ferryboat fishpond footbridge forge gallery
gazebo glasshouse granary greenhouse grove guesthouse hall hamlet hangar hayloft inn
island jetty kiosk lagoon lane lawn ledge levee loft lookout manor marina marsh mast
meadowland mural observatory oven paddock palisade pantry parlor pasture path
pergola porch promenade pub pulpit pump rampart ranch rectory riverbank roof rotunda
sawmill schoolhouse shed shipyard signpost silo skylight smithy spire square staircase
storehouse stream studio sundial swing tannery tent thicket tollhouse trellis tunnel
turret veranda viaduct village wall waterfall well wharf woodshed yard aqueduct
banner bell bonfire bucket cannon chandelier compass cradle drum easel fiddle flag
globe hammock harp helmet ladder loom mirror organ plough pram rowboat sculpture
sledge spinning-wheel stove telescope trumpet typewriter weathervane wheelbarrow""".split()
OCCUPATIONS = """baker carpenter teacher farmer fisherman librarian nurse painter
plumber shopkeeper tailor musician historian gardener mechanic pharmacist potter
photographer blacksmith firefighter""".split()
VERBS_PAST = """admired cleaned crossed decorated described enjoyed explored finished
guarded improved inspected mended painted praised protected rebuilt restored
reviewed shared studied visited watched welcomed widened""".split()
ADVERBS = """quietly slowly steadily gradually carefully happily rarely often briefly
warmly seldom patiently proudly eagerly gently""".split()
SEASONS = ["spring", "summer", "autumn", "winter"]
GROUPS = """monks settlers merchants sailors miners weavers farmers pilgrims traders
masons""".split()
SOURCES = ["the local archive", "a county survey", "the historical society", "a regional newspaper",
           "an old travel guide", "the parish records", "a university study", "the U.S. census"]
WEATHER = ["rain", "fog", "snow", "wind", "sunshine", "frost", "hail", "drizzle"]

# Filler: plausible background text of a local news article, composed from an opener,
# a subject and a predicate drawn independently from large pools. A few whole-sentence
# templates (quotes, figures) add variety. Composition keeps any two filler sentences
# from sharing more than a word or two, as real background text rarely repeats itself;
# a handful of fixed templates would form clusters of near-identical sentences that
# no real article has.
FILLER_OPENERS = [
    "", "", "", "", "", "", "In {year}, ", "In the {season} of {year}, ", "According to {source}, ",
    "{first} {last}, a {occ}, {recalled} that ", "Some {occ}s {believe} ", "Every {month}, ",
    "By {year}, ", "Before {year}, ", "Since {year}, ", "As {source} notes, ",
]
FILLER_SUBJECTS = [
    "the {adj} {noun}", "a {adj} {noun} on {last} {road}", "the {noun} near the {noun2}",
    "{first} {last}'s {noun}", "the {noun} that {group} {verb}", "the {noun} behind the {noun2}",
    "the {adj} {noun} by the {noun2}", "the {noun}", "the {noun} of {first} {last}",
]
FILLER_PREDICATES = [
    "was {verb} {adv} in {year}", "has changed little since {year}", "drew {num} visitors in {month}",
    "needed a new {noun3}", "is older than the {noun3}", "looked {adj} after the {weather}",
    "stood empty for {num} years", "became {adj} during the {season}", "hosts a {adj} fair every {month}",
    "is {adj} in the early morning", "lost its {noun3} in {year}", "was {verb} by {group}",
    "looks {adj} from the {noun3}", "cost {price} dollars to repair", "remains popular with {occ}s",
    "was painted {color} in {year}", "faces the {noun3} across the square", "inspired a {adj} song",
    "opens at {hour} o'clock", "sits at the end of a {adj} lane", "was {verb} {adv} by a {occ}",
    "smells of {smell} in the {season}", "was moved twice before {year}", "has a {adj} {noun3} beside it",
    "appears on a map from {year}", "was {adj2} and {adj} once", "kept its {color} {noun3}",
    "was closed for {num} months", "gets {adj} when the {weather} comes", "was {verb} for the {noun3} fair",
    "belonged to {group} for a century", "survived the {weather} of {year}", "is {adj} but {adj2}",
    "was rebuilt by {num} volunteers", "reminds {occ}s of their childhood", "was sold to {group} in {year}",
    "burned down in {year} and was {verb} again", "has {num} windows facing the {noun3}",
    "was named after a {occ} from {year}", "needs {price} thousand dollars of work",
    "is shaded by a {adj} {noun3}", "was {verb} {adv} after the {weather}", "houses a {color} {noun3}",
    "was described as {adj} in {year}", "overlooks the {noun3}", "is {adv} {verb} by {group}",
    "was once a {noun3}", "casts a {adj} shadow at noon", "holds {num} chairs and a {noun3}",
    "was photographed by {first} {last} in {year}", "lies beyond the {noun3}", "was {color} before {year}",
    "was guarded by {num} {occ}s", "stays {adj} all {season}", "sheltered {group} in {year}",
]
ROADS = ["Street", "Road", "Lane", "Avenue", "Square", "Row", "Hill", "Close", "Way", "Terrace"]
RECALLED = ["recalled", "remembered", "explained", "insisted", "claimed", "wrote", "noted", "joked"]
BELIEVE = ["believe", "say", "claim", "suspect", "insist", "argue", "think", "agree", "doubt that"]
COLORS = ["red", "blue", "green", "white", "yellow", "grey", "ochre", "violet", "black", "amber"]
SMELLS = ["bread", "pine", "salt", "smoke", "lavender", "coffee", "rain", "hay", "tar", "cedar"]
FILLER_TEMPLATES = [
    "\"We come here every {season},\" said {first} {last}, a retired {occ}.",
    "Dr. {last} described the {noun} as \"{adj} but {adj2}.\"",
    "Attendance at the {noun} rose by {dec} percent, according to {source}.",
    "Nobody is quite sure why the {noun2} beside the {noun} is so {adj}.",
    "\"It was {adj} back then,\" {first} {last} said. \"Now it is {adj2}.\"",
]

# Distractors: mention the organisation (so they look relevant to a naive matcher) but
# carry nothing a summary needs.
DISTRACTOR_TEMPLATES = [
    "A spokesperson for {org} declined to comment on the {noun}.",
    "{org} did not respond to questions about the {adj} {noun} near its offices.",
    "Earlier coverage of {org} focused mostly on its {adj} logo and its sponsorship of the {noun}.",
    "Visitors sometimes confuse the {org} building with the old {noun}.",
    "Staff at {org} often eat lunch by the {noun} when the weather is {adj}.",
]

# Context: sentences about the organisation and its project that restate no fact but
# keep returning to the article's subject, as real articles do. They make the subject
# the densest cluster of the document (what centrality finds) without giving it away.
CONTEXT_TEMPLATES = [
    "{org} first came to {city} more than {n} decades ago.",
    "The {facility} stands on land that {org} bought from the town of {city}.",
    "Workers at the {org} {facility} in {city} start their shifts at dawn.",
    "For {city}, the arrival of {org} has been a long story.",
    "{person} has spoken often about the {facility} and about {city}.",
    "Few companies in the region are as closely watched as {org}.",
    "The {org} {facility} is visible from the main road into {city}.",
    "Managers at {org} describe the {facility} as central to their plans.",
    "In {city}, opinions about {org} remain divided.",
    "{person} of {org} visited the {facility} site in {city} several times.",
]

# Key facts: (source sentence variants, summary sentence). Source sentences paraphrase
# the summary but keep its entity names, as real articles do.
FACTS = {
    "open": (
        ["In {month}, {org} opened a new {facility} in {city}, a project that took {n} years to plan.",
         "{org} opened its new {facility} in {city} in {month}, after {n} years of planning.",
         "The new {facility} that {org} opened in {city} this {month} was {n} years in the making."],
        "{org} opened a new {facility} in {city}.",
    ),
    "appoint": (
        ["The board of {org} named {person} as its new {role}, effective in {month}.",
         "{org} appointed {person} as {role} in {month}, the company said.",
         "{person} was chosen by {org} to serve as {role} starting in {month}."],
        "{person} was named {role} of {org}.",
    ),
    "revenue": (
        ["{org} reported annual revenue of {amount} million dollars, a rise of {pct} percent.",
         "Annual revenue at {org} reached {amount} million dollars, up {pct} percent on the year.",
         "In its yearly report, {org} said revenue grew {pct} percent to {amount} million dollars."],
        "{org} reported revenue of {amount} million dollars.",
    ),
    "hire": (
        ["{org} expects to hire {workers} workers at the {facility} by {year}.",
         "By {year}, {org} plans to employ {workers} new workers at the {facility}.",
         "The {facility} will let {org} hire {workers} workers by {year}, managers said."],
        "{org} plans to hire {workers} workers by {year}.",
    ),
    "product": (
        ["Once running, the {org} {facility} will produce {product} for customers across the region.",
         "The {facility} run by {org} is designed to produce {product}.",
         "{org} said the {facility} would produce {product} for buyers in several countries."],
        "The {org} {facility} will produce {product}.",
    ),
    "partner": (
        ["{org} also signed a supply agreement with {partner}, according to a statement.",
         "In a statement, {org} said it had signed an agreement with {partner}.",
         "{partner} and {org} signed a long-term agreement on supplies."],
        "{org} signed an agreement with {partner}.",
    ),
    "critics": (
        ["Some residents of {city} warned that the {org} {facility} could harm the {resource}.",
         "Critics in {city} said the {facility} built by {org} could harm the {resource}.",
         "Opponents warned that the {org} {facility} in {city} might harm the {resource}."],
        "Critics warned the {org} {facility} could harm the {resource}.",
    ),
    "invest": (
        ["{person} said {org} would invest {invest} million dollars in {city} over {n} years.",
         "{org} will invest {invest} million dollars in {city}, {person} told reporters.",
         "According to {person}, {org} is ready to invest {invest} million dollars in {city}."],
        "{org} will invest {invest} million dollars in {city}.",
    ),
}
FACT_ORDER = list(FACTS)

TITLE_TEMPLATES = [
    "{org} expands in {city}",
    "{org} bets on {city}",
    "New {facility} for {org} in {city}",
    "{org} and the future of {city}",
]
QUERY_TEMPLATES = [
    "What did {org} announce?",
    "{org} plans in {city}",
    "News about {org}",
]


def _pick(rng, pool):
    return pool[rng.randrange(len(pool))]


_ARTICLE = re.compile(r"\b([Aa]) (?=[aeio]|u(?!ni))")


def _fix_articles(sentence):
    """'a uneven path' -> 'an uneven path' (templates cannot know the drawn word)."""
    return _ARTICLE.sub(lambda m: m.group(1) + "n ", sentence)


def make_organisation(rng, used_names):
    """One organisation with everything its facts can mention."""
    while True:
        name = f"{_pick(rng, ORG_HEADS)} {_pick(rng, ORG_TAILS)}"
        if name not in used_names:
            used_names.add(name)
            break
    partner = name
    while partner in used_names:
        partner = f"{_pick(rng, ORG_HEADS)} {_pick(rng, ORG_TAILS)}"
    return {
        "org": name,
        "partner": partner,
        "person": f"{_pick(rng, FIRST_NAMES)} {_pick(rng, LAST_NAMES)}",
        "city": _pick(rng, CITIES),
        "facility": _pick(rng, FACILITIES),
        "product": _pick(rng, PRODUCTS),
        "role": _pick(rng, ROLES),
        "resource": _pick(rng, RESOURCES),
        "month": _pick(rng, MONTHS),
        "n": str(rng.randint(2, 9)),
        "amount": f"{rng.randint(20, 900)}.{rng.randint(1, 9)}",
        "pct": str(rng.randint(3, 40)),
        "workers": str(rng.randint(4, 60) * 25),
        "year": str(rng.randint(2026, 2032)),
        "invest": str(rng.randint(5, 95) * 10),
    }


def filler_sentence(rng):
    noun, noun2, noun3 = rng.sample(NOUNS, 3)
    adj, adj2 = rng.sample(ADJECTIVES, 2)
    if rng.random() < 0.04:
        template = _pick(rng, FILLER_TEMPLATES)
    else:
        opener = _pick(rng, FILLER_OPENERS)
        subject = _pick(rng, FILLER_SUBJECTS)
        if not opener:
            subject = subject[0].upper() + subject[1:]
        template = opener + subject + " " + _pick(rng, FILLER_PREDICATES) + "."
    return _fix_articles(template.format(
        adj=adj, adj2=adj2, noun=noun, noun2=noun2, noun3=noun3, adv=_pick(rng, ADVERBS),
        num=rng.randint(2, 60), season=_pick(rng, SEASONS), source=_pick(rng, SOURCES),
        verb=_pick(rng, VERBS_PAST), year=rng.randint(1820, 1990), first=_pick(rng, FIRST_NAMES),
        last=_pick(rng, LAST_NAMES), occ=_pick(rng, OCCUPATIONS), group=_pick(rng, GROUPS),
        weather=_pick(rng, WEATHER), month=_pick(rng, MONTHS), price=rng.randint(3, 40),
        dec=f"{rng.randint(1, 30)}.{rng.randint(1, 9)}", color=_pick(rng, COLORS),
        smell=_pick(rng, SMELLS), hour=rng.randint(6, 11), road=_pick(rng, ROADS),
        recalled=_pick(rng, RECALLED), believe=_pick(rng, BELIEVE),
    ))


def distractor_sentence(rng, org):
    return _fix_articles(_pick(rng, DISTRACTOR_TEMPLATES).format(
        org=org["org"], noun=_pick(rng, NOUNS), adj=_pick(rng, ADJECTIVES)))


def context_sentences(rng, org, count):
    return [template.format(**org) for template in rng.sample(CONTEXT_TEMPLATES, count)]


def fact_sentences(rng, org, n_facts):
    """Pick ``n_facts`` facts about ``org``: list of (source sentence, summary sentence)."""
    names = rng.sample(FACT_ORDER, n_facts)
    out = []
    for name in names:
        variants, summary = FACTS[name]
        out.append((_pick(rng, variants).format(**org), summary.format(**org)))
    return out


def build_document(rng, facts, distractors, n_words, lead_fraction):
    """Filler of about ``n_words`` words with ``facts`` spread after ``lead_fraction``.

    Returns ``(paragraph text, facts in the order they appear)``. Facts go into evenly
    sized segments of the document past its opening, one random slot per segment, so
    that the summary's material is spread out rather than at the start.
    """
    sentences, words = [], 0
    while words < n_words:  # a running count: re-counting every sentence is quadratic
        sentences.append(filler_sentence(rng))
        words += len(sentences[-1].split())
    for sentence in distractors:
        sentences.insert(rng.randrange(len(sentences) + 1), sentence)
    start = int(len(sentences) * lead_fraction)
    span = len(sentences) - start
    order = list(range(len(facts)))
    rng.shuffle(order)
    slots = []
    for segment, fact_index in enumerate(order):
        low = start + span * segment // len(facts)
        high = start + span * (segment + 1) // len(facts)
        slots.append((rng.randrange(low, max(high, low + 1)), fact_index))
    # insert from the back so earlier slots keep their meaning
    for slot, fact_index in sorted(slots, reverse=True):
        sentences.insert(slot, facts[fact_index][0])
    appearing = [facts[i] for _, i in sorted(slots)]
    paragraphs, i = [], 0
    while i < len(sentences):
        size = rng.randint(3, 6)
        paragraphs.append(" ".join(sentences[i:i + size]))
        i += size
    return "\n\n".join(paragraphs), appearing


def make_record(rng, index, split):
    used = set()
    org = make_organisation(rng, used)
    # a fixed mix whatever the count: half single documents, a quarter query-focused,
    # a quarter multi-document
    kind = index % 4
    record = {"id": f"{split}-{index:04d}"}
    if kind == 2:
        # query-focused: two organisations, the summary covers the queried one only
        other = make_organisation(rng, used)
        wanted = fact_sentences(rng, org, rng.randint(3, 5))
        unwanted = fact_sentences(rng, other, rng.randint(3, 5))
        distract = [distractor_sentence(rng, o) for o in (org, other) for _ in range(2)]
        distract += context_sentences(rng, org, 4) + context_sentences(rng, other, 4)
        mixed = wanted + unwanted
        text, appearing = build_document(rng, mixed, distract, rng.randint(1500, 2300), 0.15)
        wanted_set = {s for s, _ in wanted}
        record["document"] = text
        record["query"] = _pick(rng, QUERY_TEMPLATES).format(**org)
        summary = [summ for src, summ in appearing if src in wanted_set]
    elif kind == 3:
        # multi-document: three articles about the same organisation
        facts = fact_sentences(rng, org, rng.randint(4, 6))
        rng.shuffle(facts)
        cuts = sorted(rng.sample(range(1, len(facts)), 2))
        groups = [facts[:cuts[0]], facts[cuts[0]:cuts[1]], facts[cuts[1]:]]
        documents, summary = [], []
        for group in groups:
            distract = [distractor_sentence(rng, org)] + context_sentences(rng, org, 3)
            text, appearing = build_document(rng, group, distract, rng.randint(500, 780), 0.1)
            documents.append(text)
            summary.extend(summ for _, summ in appearing)
        record["documents"] = documents
        record["title"] = _pick(rng, TITLE_TEMPLATES).format(**org)
    else:
        facts = fact_sentences(rng, org, rng.randint(4, 6))
        distract = [distractor_sentence(rng, org) for _ in range(3)] + context_sentences(rng, org, 7)
        text, appearing = build_document(rng, facts, distract, rng.randint(1500, 2400), 0.15)
        record["document"] = text
        if rng.random() < 0.5:
            record["title"] = _pick(rng, TITLE_TEMPLATES).format(**org)
        summary = [summ for _, summ in appearing]
    record["summary"] = "\n".join(summary)
    return record


def generate_split(seed, split, count):
    # one generator per split, derived from the seed and the split's name, so that
    # changing one split's count never changes the other splits
    rng = random.Random(f"{seed}:{split}")
    return [make_record(rng, i, split) for i in range(count)]


def write_jsonl_atomic(path, records):
    with atomic_output(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="data/sample", help="output directory")
    parser.add_argument("--train", type=int, default=160, help="number of training records")
    parser.add_argument("--valid", type=int, default=24, help="number of validation records")
    parser.add_argument("--test", type=int, default=24, help="number of test records")
    args = parser.parse_args(argv)
    for name in ("train", "valid", "test"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be >= 0")
    os.makedirs(args.out, exist_ok=True)
    for split in ("train", "valid", "test"):
        records = generate_split(args.seed, split, getattr(args, split))
        path = os.path.join(args.out, f"{split}.jsonl")
        write_jsonl_atomic(path, records)
        print(f"wrote {len(records)} records to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
