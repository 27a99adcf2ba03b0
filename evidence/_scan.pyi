from assay.evidence.record import Row

def scan(
    rows: list[Row],
    first: int,
    prev: bytes,
    hashed: bool,
    times: bool,
    subtree: bool,
    version: int,
    kinds: tuple[bytes, ...],
) -> tuple[list[list[bytes]], str, list[int], list[str | None] | None] | None: ...
