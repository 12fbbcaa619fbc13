"""Counting words for messages, one home for both sides: "2 people", "3 buses", "1 frame"."""

from __future__ import annotations

# Plurals that English does not form with -s/-es, for the count summary.
_IRREGULAR = {
    "person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice",
    "goose": "geese", "tooth": "teeth", "foot": "feet", "knife": "knives", "leaf": "leaves",
    "wolf": "wolves", "shelf": "shelves", "loaf": "loaves", "calf": "calves", "half": "halves",
}
_UNCHANGED = {"sheep", "deer", "fish", "people", "series", "species", "aircraft", "glasses", "scissors",
              "skis", "pants", "jeans", "shorts", "trousers"}


def plural(label: str, count: int) -> str:
    """``label`` for ``count`` things: "1 car", "2 cars", "2 people", "3 buses", "2 traffic lights".

    A label typed in the plural ("cars") is kept as typed, and so is a numbered label (see
    ``numbered``).
    """
    if count == 1 or numbered(label):
        return label
    words = label.split(" ")
    last = words[-1]
    low = last.lower()
    if low in _IRREGULAR:
        last = _IRREGULAR[low]
    elif low in _UNCHANGED or (low.endswith("s") and not low.endswith(("ss", "us", "is"))):
        pass  # already plural, or the same in both
    elif low.endswith(("s", "x", "z", "ch", "sh")):
        last = last + "es"
    elif low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last = last + "s"
    return " ".join(words[:-1] + [last])


def numbered(label: str) -> bool:
    """A label that ends in a number, such as a box file's "category 1" or "class 3", is a
    name, not a noun: it is counted as "2 of category 1", never "2 category 1s"."""
    return label.rsplit(" ", 1)[-1][:1].isdigit()


def counted(count: int, word: str) -> str:
    """ "1 frame", "3 frames", "2 people", "2 of category 1": the count and the word in the
    form it takes."""
    return f"{count} of {word}" if numbered(word) else f"{count} {plural(word, count)}"
