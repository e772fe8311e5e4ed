"""The 64-class Morse codebook: class index -> (symbol, code).

Order (= label index): letters A-Z, digits 0-9, punctuation ``. , ? ' ! / ( ) : ; = + - _ " @ &``,
then the extended letters ``Ä Ç CH É Ĝ Ĵ Ñ Ö Ŝ Ü Ð``.

The original public codebook (Dey, Chugg, Beerel 2018) listed ``Ĥ`` with the code ``-.--.``, the same
as ``(``, so two of its 64 classes could never be told apart.  Here ``&`` (``.-...``) takes that place,
and all 64 codes are distinct.
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

assert NUM_CLASSES == 64, NUM_CLASSES
assert len(set(CODES)) == NUM_CLASSES, "codes must be distinct"
assert len(set(SYMBOLS)) == NUM_CLASSES, "symbols must be distinct"
