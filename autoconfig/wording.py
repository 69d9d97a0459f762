"""Counts in words for the lines people read: "1 provider", "2 providers", "0 warnings"."""


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`number` and the noun in the form it takes; the plural is the noun plus "s" unless given."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
