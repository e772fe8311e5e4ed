"""The 64-class Morse codebook: class index -> (symbol, code).

Order (= label index): letters A-Z, digits 0-9, punctuation ``. , ? ' ! / ( ) : ; = + - _ " @ &``,
then the extended letters ``Ä Ç CH É Ĝ Ĵ Ñ Ö Ŝ Ü Ð``.

The original public codebook (Dey, Chugg, Beerel 2018) listed ``Ĥ`` with the code ``-.--.``, the same
as ``(``, so two of its 64 classes could never be told apart.  Here ``&`` (``.-...``) takes that place,
and all 64 codes are distinct (:data:`CODEBOOK`, the default).  :data:`ORIGINAL_CODEBOOK` keeps the
duplicate, with ``Ĥ`` at ``&``'s class index, for like-for-like comparisons with published numbers; with
equal class priors its accuracy ceiling is 63/64 = 98.44 % (one of the two classes is always wrong).
"""

from __future__ import annotations

_LETTERS = [
    ("A", ".-"), ("B", "-..."), ("C", "-.-."), ("D", "-.."), ("E", "."), ("F", "..-."),
    ("G", "--."), ("H", "...."), ("I", ".."), ("J", ".---"), ("K", "-.-"), ("L", ".-.."),
    ("M", "--"), ("N", "-."), ("O", "---"), ("P", ".--."), ("Q", "--.-"), ("R", ".-."),
    ("S", "..."), ("T", "-"), ("U", "..-"), ("V", "...-"), ("W", ".--"), ("X", "-..-"),
    ("Y", "-.--"), ("Z", "--.."),
]  # fmt: skip

_DIGITS = [
    ("0", "-----"), ("1", ".----"), ("2", "..---"), ("3", "...--"), ("4", "....-"),
    ("5", "....."), ("6", "-...."), ("7", "--..."), ("8", "---.."), ("9", "----."),
]  # fmt: skip

_PUNCTUATION = [
    (".", ".-.-.-"), (",", "--..--"), ("?", "..--.."), ("'", ".----."), ("!", "-.-.--"),
    ("/", "-..-."), ("(", "-.--."), (")", "-.--.-"), (":", "---..."), (";", "-.-.-."),
    ("=", "-...-"), ("+", ".-.-."), ("-", "-....-"), ("_", "..--.-"), ('"', ".-..-."),
    ("@", ".--.-."), ("&", ".-..."),
]  # fmt: skip

_EXTENDED = [
    ("Ä", ".-.-"), ("Ç", "-.-.."), ("CH", "----"), ("É", "..-.."), ("Ĝ", "--.-."),
    ("Ĵ", ".---."), ("Ñ", "--.--"), ("Ö", "---."), ("Ŝ", "...-."), ("Ü", "..--"), ("Ð", "..--."),
]  # fmt: skip

#: ``CODEBOOK[i] == (symbol, code)`` for class ``i``; codes use ``.`` for dot and ``-`` for dash.
CODEBOOK: tuple[tuple[str, str], ...] = tuple(_LETTERS + _DIGITS + _PUNCTUATION + _EXTENDED)

#: Symbols in class order.
SYMBOLS: tuple[str, ...] = tuple(s for s, _ in CODEBOOK)

#: Codes in class order.
CODES: tuple[str, ...] = tuple(c for _, c in CODEBOOK)

NUM_CLASSES = len(CODEBOOK)

#: The original public codebook: ``Ĥ`` (``-.--.``, the same code as ``(``) in place of ``&``.
ORIGINAL_CODEBOOK: tuple[tuple[str, str], ...] = tuple(
    ("Ĥ", "-.--.") if symbol == "&" else (symbol, code) for symbol, code in CODEBOOK
)

#: Codebooks by name (the generator's ``codebook`` parameter).
CODEBOOKS: dict[str, tuple[tuple[str, str], ...]] = {"fixed": CODEBOOK, "original": ORIGINAL_CODEBOOK}

#: Best test accuracy any classifier can reach on each codebook with equal class priors.
ACCURACY_CEILING: dict[str, float] = {name: len({c for _, c in book}) / len(book) for name, book in CODEBOOKS.items()}

assert NUM_CLASSES == 64, NUM_CLASSES
assert len(set(CODES)) == NUM_CLASSES, "codes must be distinct"
assert len(set(SYMBOLS)) == NUM_CLASSES, "symbols must be distinct"
assert len({c for _, c in ORIGINAL_CODEBOOK}) == NUM_CLASSES - 1, "the original has one duplicate"
