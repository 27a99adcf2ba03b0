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
