SHA_EXTENSIONS: int
"""1 when hashes go two at a time through the CPU's SHA extensions, 0 when through OpenSSL."""

def scan(
    data: bytes | memoryview,
    count: int,
    first: int,
    prev: bytes,
    hashed: bool,
    times: bool,
    subtree: bool,
    version: int,
    kinds: tuple[bytes, ...],
) -> tuple[list[bytes], str, list[int], list[str | None] | None] | None: ...
def count_lines(data: bytes | memoryview, /) -> int: ...
def line_end(data: bytes | memoryview, start: int, lines: int, /) -> int: ...
