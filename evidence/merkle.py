"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

Pure functions. A tree is read through a node store: the hashes of *complete*
subtrees, keyed ``(level, index)``, where node ``(l, i)`` covers leaves
``[i * 2**l, (i + 1) * 2**l)`` and level 0 holds the leaf hashes. Complete subtrees
never change once the log has grown past them, so a backend writes each one once, in
the append that completes it; any root or proof then needs O(log n) stored hashes,
fetched in one call, and no rehashing of the log.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 and checks that every hash is
32 bytes. Deliberate strictness: a consistency proof from size 0 is refused (it proves
nothing), as transparency-dev/merkle does since v0.0.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from assay.errors import AssayError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of nothing."""

NodeKey = tuple[int, int]
"""(level, index) of a complete subtree."""
NodeFetch = Callable[[Sequence[NodeKey]], Sequence[bytes]]
"""Returns the hashes of the given complete subtrees, in the order asked."""

_Range = tuple[int, int]


class ProofError(AssayError, ValueError):
    """A proof, hash or tree size does not verify; the message says what and why."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")


def _check_size(size: int, what: str = "tree size") -> None:
    if size < 0:
        raise ProofError(f"{what} {size} is negative")


# --- what to fetch -----------------------------------------------------------------------


def _range_keys(begin: int, end: int) -> list[NodeKey]:
    """The complete subtrees, largest first, whose right fold is MTH(leaves[begin:end]).

    Only for ranges that RFC 6962's recursion produces: `begin` is a multiple of a
    power of two that is at least ``end - begin``.
    """
    keys = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def frontier_keys(size: int) -> list[NodeKey]:
    """The complete subtrees covering leaves ``[0, size)``, largest first."""
    _check_size(size)
    return _range_keys(0, size)


def subtree_keys(begin: int, end: int) -> list[NodeKey]:
    """The complete subtrees, left to right, that cover leaves ``[begin, end)`` exactly.

    Each is the largest that starts where the previous ended: the nodes a `Frontier`
    at size `begin` takes, through `Frontier.append_subtree`, to reach size `end`.
    ``subtree_keys(0, n) == frontier_keys(n)``.
    """
    if not 0 <= begin <= end:
        raise ProofError(f"no leaf range [{begin}, {end})")
    keys = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    """Leaf ranges whose hashes form the audit path of `index`, from the leaf up."""
    ranges = []
    level, node, last = 0, index, size - 1
    while last > 0:
        if node & 1:
            ranges.append(((node - 1) << level, node << level))
        elif node < last:
            ranges.append(((node + 1) << level, min((node + 2) << level, size)))
        node, last, level = node >> 1, last >> 1, level + 1
    return ranges


def _consistency_ranges(old: int, begin: int, end: int, whole: bool) -> list[_Range]:
    """RFC 9162 §2.1.4.1 SUBPROOF(old, leaves[begin:end], whole), as leaf ranges."""
    if old == end - begin:
        return [] if whole else [(begin, end)]
    split = 1 << ((end - begin - 1).bit_length() - 1)
    if old <= split:
        return [*_consistency_ranges(old, begin, begin + split, whole), (begin + split, end)]
    return [*_consistency_ranges(old - split, begin + split, end, False), (begin, begin + split)]


def _fold(fetch: NodeFetch, ranges: list[_Range]) -> list[bytes]:
    """The hash of every range, with one call to `fetch`."""
    per_range = [_range_keys(begin, end) for begin, end in ranges]
    wanted = [key for keys in per_range for key in keys]
    hashes = list(fetch(wanted))
    if len(hashes) != len(wanted):
        raise ProofError(f"node store returned {len(hashes)} hashes for {len(wanted)} nodes")
    out, at = [], 0
    for keys in per_range:
        out.append(fold(hashes[at : at + len(keys)]))
        at += len(keys)
    return out


# --- generating --------------------------------------------------------------------------


def root(fetch: NodeFetch, size: int) -> bytes:
    """The root of the tree of the first `size` leaves."""
    _check_size(size)
    return EMPTY_ROOT if size == 0 else _fold(fetch, [(0, size)])[0]


def inclusion_proof(fetch: NodeFetch, index: int, size: int) -> list[bytes]:
    """The RFC 9162 audit path of leaf `index` in the tree of size `size`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    return _fold(fetch, _inclusion_ranges(index, size))


def consistency_proof(fetch: NodeFetch, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 9162 proof that the tree of `new_size` leaves extends that of `old_size`."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    return _fold(fetch, _consistency_ranges(old_size, 0, new_size, True))


class Frontier:
    """The complete subtrees covering leaves ``[0, size)``: enough to append and to root.

    Streaming a log through `append` computes its root in O(log n) memory; the nodes
    `append` returns are exactly those a node store must gain with that leaf.
    """

    __slots__ = ("_stack", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        keys = frontier_keys(size)
        if len(hashes) != len(keys):
            raise ProofError(f"a frontier of size {size} has {len(keys)} hashes, got {len(hashes)}")
        for key, value in zip(keys, hashes, strict=True):
            _check_hash(value, f"frontier node {key}")
        self.size = size
        self._stack = [(level, value) for (level, _), value in zip(keys, hashes, strict=True)]

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; returns the ``(level, index, hash)`` nodes it completes."""
        return self.append_subtree(0, leaf)

    def push(self, leaf: bytes) -> None:
        """`append` for a caller that only wants roots: no list of completed nodes."""
        # `append_subtree(0, leaf)`, spelled out: this is the verifier's per-record path.
        index, level, value, stack = self.size, 0, leaf, self._stack
        while index & 1:
            value = node_hash(stack.pop()[1], value)
            index, level = index >> 1, level + 1
        stack.append((level, value))
        self.size += 1

    def append_subtree(self, level: int, value: bytes) -> list[tuple[int, int, bytes]]:
        """Add the root of a complete subtree of ``2**level`` leaves, at an aligned size;
        returns the ``(level, index, hash)`` nodes it completes, itself first."""
        if self.size & ((1 << level) - 1):
            raise ProofError(f"a subtree of 2**{level} leaves cannot start at {self.size}")
        grown = 1 << level
        index, stack = self.size >> level, self._stack
        completed = [(level, index, value)]
        while index & 1:
            value = node_hash(stack.pop()[1], value)
            index, level = index >> 1, level + 1
            completed.append((level, index, value))
        stack.append((level, value))
        self.size += grown
        return completed

    def hashes(self) -> list[bytes]:
        """The complete subtrees' hashes, largest first (those of `frontier_keys(size)`)."""
        return [value for _, value in self._stack]

    def root(self) -> bytes:
        """The root over every leaf appended so far."""
        return fold(self.hashes())


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root over complete subtrees given largest first, as `Frontier.hashes` lists them."""
    if not hashes:
        return EMPTY_ROOT
    value = hashes[-1]
    for left in reversed(hashes[:-1]):
        value = node_hash(left, value)
    return value


# --- verifying ---------------------------------------------------------------------------


def _check_proof(proof: Sequence[bytes], expected: int, what: str) -> None:
    if len(proof) != expected:
        raise ProofError(f"{what} has {len(proof)} hashes, expected {expected}")
    for i, value in enumerate(proof):
        _check_hash(value, f"proof hash {i}")


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` implies for `leaf` at `index` in a tree of size `size`."""
    _check_hash(leaf, "leaf hash")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_proof(proof, len(_inclusion_ranges(index, size)), f"inclusion proof for {index}/{size}")
    node, last, value = index, size - 1, leaf
    for sibling in proof:
        if node & 1 or node == last:
            value = node_hash(sibling, value)
            while not node & 1 and node:
                node, last = node >> 1, last >> 1
        else:
            value = node_hash(value, sibling)
        node, last = node >> 1, last >> 1
    return value


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Raise ProofError unless `proof` shows `leaf` at `index` in the tree `expected_root`."""
    _check_hash(expected_root, "root")
    got = root_from_inclusion(leaf, index, size, proof)
    if got != expected_root:
        raise ProofError(
            f"inclusion proof for {index}/{size} gives root {got.hex()}, "
            f"expected {expected_root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Raise ProofError unless `proof` shows tree (`new_size`, `new_root`) extends the old one."""
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    what = f"consistency proof {old_size}->{new_size}"
    _check_proof(proof, len(_consistency_ranges(old_size, 0, new_size, True)), what)
    if old_size == new_size:
        if old_root != new_root:
            raise ProofError(f"{what}: same size, but roots {old_root.hex()} != {new_root.hex()}")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    node, last = old_size - 1, new_size - 1
    while node & 1:
        node, last = node >> 1, last >> 1
    old_value = new_value = path[0]
    for sibling in path[1:]:
        if node & 1 or node == last:
            old_value = node_hash(sibling, old_value)
            new_value = node_hash(sibling, new_value)
            while not node & 1 and node:
                node, last = node >> 1, last >> 1
        else:
            new_value = node_hash(new_value, sibling)
        node, last = node >> 1, last >> 1
    if old_value != old_root:
        raise ProofError(f"{what} gives old root {old_value.hex()}, expected {old_root.hex()}")
    if new_value != new_root:
        raise ProofError(f"{what} gives new root {new_value.hex()}, expected {new_root.hex()}")
