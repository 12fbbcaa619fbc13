"""What to look for: a typed query such as ``"car, person"`` turned into clean labels.

Open-vocabulary detectors take a few short phrases. People type them with commas,
semicolons, full stops or new lines between them, in any case, sometimes with stray
punctuation; Grounding DINO wants lower-case phrases each ended by ``" ."``. This module
is the one place that turns text into labels and labels into a detector prompt, and it
refuses, with a message a user can act on, what no detector can use: nothing, only
punctuation, or a paragraph.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence, Tuple, Union

#: Longest query accepted, in characters: a few comma-separated phrases fit easily, and it
#: keeps the prompt well inside Grounding DINO's 256 text tokens.
MAX_QUERY_CHARS = 200
#: Most labels in one query (each is a separate class for the detector).
MAX_LABELS = 16

# Characters that separate labels; "and" is not one ("salt and pepper shaker" is one thing).
_SEPARATORS = re.compile(r"[,;.\n\r\t|]+")
_EDGE_PUNCTUATION = " \"'`()[]{}<>!?:*#~_-+=/\\"


class QueryError(ValueError):
    """A query no detector can use; the message says what to type instead."""


def parse_query(query: Union[str, Iterable[str]]) -> Tuple[str, ...]:
    """Labels of a query, lower-case, whitespace collapsed, duplicates removed, in order.

    ``query`` is text (``"car, Person; dog."``) or already a list of phrases. Raises
    ``QueryError`` for empty text, text with no letter or digit, more than
    ``MAX_QUERY_CHARS`` characters, or more than ``MAX_LABELS`` labels.
    """
    if query is None:
        raise QueryError("Type what to look for, e.g. 'car' or 'person, dog'.")
    text = query if isinstance(query, str) else ", ".join(str(q) for q in query)
    stripped = text.strip()
    if not stripped:
        raise QueryError("The query is empty: type what to look for, e.g. 'car' or 'person, dog'.")
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(
            f"The query is {len(stripped)} characters long; keep it under {MAX_QUERY_CHARS} "
            "(a few words, separated by commas, e.g. 'car, person')."
        )
    labels = []
    for part in _SEPARATORS.split(stripped):
        label = " ".join(part.split()).strip(_EDGE_PUNCTUATION).lower()
        label = " ".join(label.split())
        if label and any(ch.isalnum() for ch in label) and label not in labels:
            labels.append(label)
    if not labels:
        raise QueryError(
            f"'{stripped[:40]}' has no word to look for: type what to find, e.g. 'car' or 'person, dog'."
        )
    if len(labels) > MAX_LABELS:
        raise QueryError(f"The query names {len(labels)} things; look for at most {MAX_LABELS} at once.")
    return tuple(labels)


def grounding_prompt(labels: Sequence[str]) -> Tuple[str, Tuple[Tuple[int, int], ...]]:
    """Grounding DINO's text for ``labels`` and each label's character span in it.

    ``("car", "traffic light")`` -> ``("car . traffic light .", ((0, 3), (6, 19)))``: the
    phrases lower-case, each followed by ``" ."``, as the model was trained.
    """
    parts, spans, pos = [], [], 0
    for label in labels:
        phrase = label.lower()
        parts.append(phrase + " .")
        spans.append((pos, pos + len(phrase)))
        pos += len(phrase) + 3  # the phrase, " .", and the joining space
    return " ".join(parts), tuple(spans)
