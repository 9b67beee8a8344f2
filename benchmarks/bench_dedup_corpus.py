"""Deterministic generator of instruction-like texts with a known share of near-duplicates.

Shared by the dedup benchmarks. Texts are built from sentence frames whose slots are filled
from a Zipf-distributed vocabulary (a few hundred common instruction words plus a long tail of
pseudo-words), so token frequencies look like a real instruction pool: a handful of very common
tokens ("the", "a", "of", "given") and many rare ones. A fixed share of the texts are edited
copies of an earlier text (1-3 word substitutions, insertions, deletions or swaps, plus casing
and punctuation noise); whether an edited copy really exceeds ROUGE-L 0.7 depends on its length
and edits, which is what makes the decision non-trivial.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


VERBS = _words(
    "write explain describe list generate summarize classify translate rewrite suggest create "
    "compare identify find give outline design draft compose answer evaluate recommend convert "
    "calculate estimate predict sort rank extract detect correct paraphrase name choose plan "
    "analyze brainstorm simplify expand shorten format organize categorize critique justify "
    "illustrate imagine invent decide determine infer interpret label match measure narrate "
    "prioritize propose recast reorder reply respond revise schedule select solve spot tag "
    "teach tell test transform verify argue check count debug edit grade highlight improve"
)
NOUNS = _words(
    "story poem email letter recipe essay summary list plan question answer review report "
    "sentence paragraph title headline tweet joke riddle song speech argument dialogue article "
    "description definition example explanation function program query table schedule budget "
    "itinerary menu slogan advertisement message note proposal outline abstract agenda "
    "analogy anecdote announcement apology biography blog caption chart checklist claim code "
    "comment complaint conversation cover diagram diary document draft equation excuse fable "
    "feedback film form formula game glossary graph greeting guide haiku hypothesis instruction "
    "interview invitation label lesson limerick log lyric map memo metaphor minutes motto "
    "newsletter novel number password pitch playlist plot policy post poster prompt puzzle "
    "quiz quote rap regex reminder request resume rhyme routine rule scene script sequence "
    "sketch snippet sonnet spreadsheet statement strategy survey syllabus synopsis tagline "
    "task template testimonial text theory thesis timeline tip toast tutorial update vow word"
)
ADJECTIVES = _words(
    "short long funny formal casual persuasive detailed brief creative simple clear polite "
    "friendly professional concise interesting surprising sad happy scientific historical "
    "practical healthy cheap quick modern traditional academic angry anxious bold calm "
    "careful catchy cheerful childish classic clever colorful complex confident cozy curious "
    "dark dramatic dry easy elegant emotional epic exciting factual familiar famous fancy "
    "fictional gentle gloomy gritty honest hopeful humble ironic jolly kind lazy lively local "
    "loud lyrical magical mature mysterious neutral nostalgic novel odd optimistic original "
    "playful poetic positive precise quirky rare realistic relaxed rough rustic sarcastic "
    "secret serious sharp silly sincere sleepy smooth sober solemn spicy strict subtle sweet "
    "technical tender tense tidy tiny tragic urgent vague vivid warm weird whimsical wise witty"
)
AUDIENCES = _words(
    "children|students|a beginner|an expert|my manager|a customer|a friend|teenagers|engineers|"
    "parents|a teacher|tourists|a doctor|my neighbor|retirees|a new employee|investors|voters|"
    "a coach|nurses|gamers|a landlord|farmers|artists|scientists|a chef|a librarian|drivers",
    sep="|",
)
TOPICS = _words(
    "climate music history cooking travel money sleep sports friendship ocean space chess "
    "gardening coffee robots volcanoes taxes vaccines democracy jazz bicycles rainforests "
    "photography marathons bees recycling meditation startups inflation dinosaurs comets "
    "pottery origami tides earthquakes kindness procrastination podcasts cryptography "
    "algebra grammar electricity magnets nutrition yoga camping hiking fishing knitting "
    "architecture bridges trains airplanes submarines satellites telescopes microscopes "
    "bacteria viruses genes evolution fossils glaciers deserts islands rivers mountains "
    "elections courts contracts insurance mortgages salaries interviews resumes deadlines "
    "teamwork leadership negotiation empathy honesty courage patience curiosity creativity "
    "languages poetry theater painting sculpture cinema novels comics museums libraries"
)
FRAMES = (
    "{verb} a {adj} {noun} about {topic}.",
    "{verb} a {noun} about {topic} for {aud}.",
    "Given a {noun} about {topic}, {verb} its main {noun2}.",
    "Can you {verb} the {noun} below in a {adj} way?",
    "{verb} {num} {adj} ideas for a {noun} on {topic} and {topic2}.",
    "Is the following {noun} about {topic} {adj} or not?",
    "Please {verb} why {topic} matters to {aud} in {num} sentences.",
    "{verb} the {noun}: is it about {topic} or {topic2}?",
    "Here is a {noun} written by {aud}. {verb} it so it sounds more {adj}.",
    "What is the best way to {verb} a {adj} {noun} about {topic}?",
    "{verb} the differences between {topic} and {topic2} in a {adj} {noun}.",
    "You are given a {noun} and a {noun2}. {verb} whether the {noun} mentions {topic}.",
    "How would {aud} {verb} a {noun} on {topic}?",
    "Tell me {num} facts about {topic} that {aud} would find {adj}.",
    "{verb} this {noun} into a {adj} {noun2}.",
    "Which {noun} best describes {topic}? Explain your choice.",
    "I need a {adj} {noun} for {aud} about {topic}.",
    "Make a {noun} that connects {topic} with {topic2}.",
    "{verb} every {noun} in the text that refers to {topic}.",
    "Pretend you are {aud} and {verb} a {noun} about {topic}.",
    "What are the pros and cons of {topic} for {aud}?",
    "{verb} a {noun2} from the {noun} and keep it {adj}.",
    "Find the {adj} parts of this {noun} about {topic}.",
    "List {num} questions {aud} might ask about {topic}.",
    "Turn these notes on {topic} into a {adj} {noun}.",
    "Suggest a name for a {noun} that mixes {topic} and {topic2}.",
    "Why do {aud} often misunderstand {topic}?",
    "Rate this {noun} from 1 to {num} and justify the score.",
    "Describe {topic} without mentioning {topic2}.",
    "Convert the {noun} into {num} bullet points.",
    "Who would enjoy a {adj} {noun} about {topic}, and why?",
    "Draft an opening line for a {noun} set in a world of {topic}.",
    "Check the {noun} for mistakes and {verb} the wrong parts.",
    "If {topic} were a person, how would it {verb} a {noun}?",
    "Group the following items by {topic}.",
    "Predict how {topic} will change in {num} years.",
    "Answer as {aud}: what is the hardest part of {topic}?",
    "Which of these two {noun}s is more {adj}?",
    "Outline a {num}-step plan to learn {topic}.",
    "Give {aud} advice on {topic} in one {noun}.",
)
PREPOSITIONS = _words("about on for regarding involving featuring against with near after before")
DETERMINERS = ("a", "the", "one", "some", "my", "this", "{num}", "every", "another")
PURPOSES = (
    "to help {aud}",
    "so that {aud} can follow it",
    "to use at work",
    "for a birthday party",
    "to teach {topic}",
    "that could win a prize",
    "to post online",
    "for a job interview",
    "that avoids {topic2}",
    "to read aloud",
)
OPENERS = (
    "Please",
    "Could you",
    "I want you to",
    "Your task is to",
    "Quickly",
    "Step by step,",
    "In your own words,",
    "As an assistant,",
    "For my homework,",
    "Without looking anything up,",
    "Using plain English,",
    "If possible,",
    "Briefly,",
    "Carefully",
)
MODIFIERS = (
    "in {num} words",
    "using simple language",
    "for a school project",
    "with a {adj} tone",
    "and explain your reasoning",
    "in a table",
    "as a bulleted list",
    "in under {num} sentences",
    "for a {adj} audience",
    "and cite one example",
    "then summarize it in one line",
    "in the style of a {noun}",
    "without using jargon",
    "and keep it {adj}",
    "for {aud}",
    "in the first person",
    "with exactly {num} items",
    "and end with a question",
)
_SYLLABLES = _words(
    "ka lo mi re sa tu ven dor pli qua zen bri sto mar kel nu fo gra tri ul an es ix om "
    "ber cal dun fen gol hap jin lum mox nir pex rov sul tam vex wob yar zil"
)


@dataclass(frozen=True)
class Corpus:
    """A generated corpus: the texts and which of them were made as edited copies."""

    texts: list[str]
    is_edited_copy: list[bool]


class _Generator:
    def __init__(self, seed: int, dup_share: float, tail_size: int) -> None:
        self.rng = random.Random(seed)
        self.dup_share = dup_share
        tail = {self._pseudo_word() for _ in range(tail_size)}
        self.topics = TOPICS + sorted(tail)
        # Zipf-like weights: rank r gets weight r^-0.8, so a few topics dominate and most are rare.
        self.topic_cum_weights = list(
            itertools.accumulate((rank + 1) ** -0.8 for rank in range(len(self.topics)))
        )

    def _pseudo_word(self) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(2, 4)))

    def _zipf(self, words: list[str]) -> str:
        # Earlier words are more frequent: index = floor(len * u^1.5) skews towards the front.
        return words[int(len(words) * self.rng.random() ** 1.5)]

    def _topic(self) -> str:
        words = self.rng.choices(
            self.topics, cum_weights=self.topic_cum_weights, k=self.rng.randint(1, 2)
        )
        return " ".join(words)

    def _grammar_frame(self) -> str:
        # Verb, object, topic and optional purpose, each varied: a frame nobody wrote by hand.
        parts = ["{verb}", self.rng.choice(DETERMINERS)]
        if self.rng.random() < 0.6:
            parts.append("{adj}")
        parts += ["{noun}", self.rng.choice(PREPOSITIONS), "{topic}"]
        if self.rng.random() < 0.4:
            parts += [self.rng.choice(("and", "or", "versus", "plus")), "{topic2}"]
        if self.rng.random() < 0.5:
            parts.append(self.rng.choice(PURPOSES))
        return " ".join(parts) + self.rng.choice(".?!")

    def fresh(self) -> str:
        clauses = []
        for _ in range(self.rng.choice((1, 1, 1, 1, 2, 2))):
            frame = self.rng.choice(FRAMES) if self.rng.random() < 0.5 else self._grammar_frame()
            if self.rng.random() < 0.4:
                frame = f"{self.rng.choice(OPENERS)} {frame[0].lower()}{frame[1:]}"
            if self.rng.random() < 0.5:
                frame = f"{frame[:-1]} {self.rng.choice(MODIFIERS)}{frame[-1]}"
            clause = frame.format(
                verb=self._zipf(VERBS),
                adj=self._zipf(ADJECTIVES),
                noun=self._zipf(NOUNS),
                noun2=self._zipf(NOUNS),
                topic=self._topic(),
                topic2=self._topic(),
                aud=self.rng.choice(AUDIENCES),
                num=self.rng.randint(2, 12),
            )
            clauses.append(clause[0].upper() + clause[1:])
        return " ".join(clauses)

    def edited(self, source: str) -> str:
        words = source.split()
        for _ in range(self.rng.randint(1, 3)):
            op = self.rng.randrange(4)
            pos = self.rng.randrange(len(words))
            if op == 0:
                words[pos] = self.rng.choice(VERBS + NOUNS + ADJECTIVES)
            elif op == 1:
                words.insert(pos, self.rng.choice([*ADJECTIVES, "very", "also", "the"]))
            elif op == 2 and len(words) > 2:
                del words[pos]
            elif pos + 1 < len(words):
                words[pos], words[pos + 1] = words[pos + 1], words[pos]
        text = " ".join(words)
        if self.rng.random() < 0.3:
            text = text.upper() if self.rng.random() < 0.2 else text.rstrip(".?") + "!"
        return text


def generate_corpus(
    n: int, *, seed: int = 0, dup_share: float = 0.25, tail_size: int = 40_000
) -> Corpus:
    """Generate ``n`` instruction-like texts deterministically.

    Args:
        n: Number of texts.
        seed: Random seed; equal seeds give equal corpora.
        dup_share: Share of texts made as edited copies of an earlier text.
        tail_size: Number of pseudo-words in the rare-topic vocabulary tail.

    Returns:
        The corpus.
    """
    gen = _Generator(seed, dup_share, tail_size)
    texts: list[str] = []
    edited: list[bool] = []
    for _ in range(n):
        if texts and gen.rng.random() < dup_share:
            texts.append(gen.edited(gen.rng.choice(texts)))
            edited.append(True)
        else:
            texts.append(gen.fresh())
            edited.append(False)
    return Corpus(texts=texts, is_edited_copy=edited)
