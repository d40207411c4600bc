"""Reading a text input file strictly: a directory, bytes that are not UTF-8, or a NUL byte
(binary data) is refused with the file and the line, never read as text."""

from __future__ import annotations

from pathlib import Path


def read_text(path: str | Path, expected: str, encoding: str = "utf-8", error: type[ValueError] = ValueError, sep: str = ", ") -> str:
    """The text of ``path``; ``expected`` says what the file should be (in the error messages).

    Args:
        encoding: ``utf-8``, or ``utf-8-sig`` to allow a leading byte-order mark.
        error: the ValueError subclass raised.
        sep: between the file and ``line N`` in messages (the caller's own messages' style).

    Raises:
        FileNotFoundError: no such file.
        error: a directory, bytes that are not UTF-8, or a NUL byte, naming the file and line.
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a directory; expected {expected}")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise error(f"{path}{sep}line {line}: byte {data[err.start]:#04x} at offset {err.start} is not UTF-8 text; expected {expected}") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise error(f"{path}{sep}line {line}: a NUL byte (binary data); expected {expected}")
    return text
