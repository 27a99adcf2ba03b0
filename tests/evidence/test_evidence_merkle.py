"""RFC 6962 hashing, proofs and verification: known answers, a naive reference, mutations."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.evidence.merkle import (
    EMPTY_ROOT,
    Frontier,
    NodeKey,
    ProofError,
    consistency_proof,
    frontier_keys,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testonly/constants.go (Apache-2.0): the RFC 6962 test leaves,
# the roots of the trees of their first 0..8, and the node hashes of the 8-leaf tree.
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
NODES = {
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
# transparency-dev/merkle proof/verify_test.go: (index, size, proof) and (size1, size2, proof).
INCLUSION = [
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
CONSISTENCY = [
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]


def store(leaves: Sequence[bytes]) -> tuple[dict[NodeKey, bytes], Callable[..., list[bytes]]]:
    """A node store filled the way a ledger fills it: through Frontier.append."""
    nodes: dict[NodeKey, bytes] = {}
    frontier = Frontier()
    for leaf in leaves:
        for level, index, value in frontier.append(leaf_hash(leaf)):
            nodes[(level, index)] = value
    return nodes, lambda keys: [nodes[key] for key in keys]


def prefix_matches(proof: list[bytes], prefixes: list[str]) -> bool:
    return [value.hex()[:8] for value in proof] == prefixes


# --- a naive reference, straight from RFC 6962 §2.1 --------------------------------------


def reference(
    leaves: Sequence[bytes],
) -> tuple[Callable[[int, int], bytes], Callable[..., list[bytes]], Callable[..., list[bytes]]]:
    hashes = [leaf_hash(leaf) for leaf in leaves]

    @cache
    def mth(begin: int, end: int) -> bytes:
        n = end - begin
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashes[begin]
        k = 1 << ((n - 1).bit_length() - 1)
        return node_hash(mth(begin, begin + k), mth(begin + k, end))

    def path(m: int, begin: int, end: int) -> list[bytes]:
        n = end - begin
        if n == 1:
            return []
        k = 1 << ((n - 1).bit_length() - 1)
        if m < k:
            return [*path(m, begin, begin + k), mth(begin + k, end)]
        return [*path(m - k, begin + k, end), mth(begin, begin + k)]

    def subproof(m: int, begin: int, end: int, whole: bool) -> list[bytes]:
        n = end - begin
        if m == n:
            return [] if whole else [mth(begin, end)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return [*subproof(m, begin, begin + k, whole), mth(begin + k, end)]
        return [*subproof(m - k, begin + k, end, False), mth(begin, begin + k)]

    return (
        mth,
        lambda index, size: path(index, 0, size),
        lambda old, new: subproof(old, 0, new, True),
    )


# --- known answers -----------------------------------------------------------------------


def test_empty_root_is_the_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert root(lambda keys: [], 0) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_rfc6962_test_leaves(size: int) -> None:
    _, fetch = store(LEAVES[:size])
    assert root(fetch, size).hex() == ROOTS[size]
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf_hash(leaf))
    assert frontier.root().hex() == ROOTS[size]


def test_stored_nodes_are_the_known_node_hashes() -> None:
    nodes, _ = store(LEAVES)
    assert {key: value.hex() for key, value in nodes.items() if key[0] > 0} == NODES
    assert len([key for key in nodes if key[0] == 0]) == 8


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_known_inclusion_proofs(index: int, size: int, expected: list[str]) -> None:
    _, fetch = store(LEAVES)
    proof = inclusion_proof(fetch, index, size)
    assert prefix_matches(proof, expected)
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY)
def test_known_consistency_proofs(old: int, new: int, expected: list[str]) -> None:
    _, fetch = store(LEAVES)
    proof = consistency_proof(fetch, old, new)
    assert prefix_matches(proof, expected)
    verify_consistency(old, new, proof, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]))


def test_frontier_keys_are_the_binary_decomposition() -> None:
    assert frontier_keys(0) == []
    assert frontier_keys(8) == [(3, 0)]
    assert frontier_keys(13) == [(3, 0), (2, 2), (0, 12)]


def test_a_frontier_resumes_from_stored_hashes() -> None:
    _nodes, fetch = store(LEAVES[:5])
    resumed = Frontier(5, fetch(frontier_keys(5)))
    for leaf in LEAVES[5:]:
        resumed.append(leaf_hash(leaf))
    assert resumed.root().hex() == ROOTS[8]
    with pytest.raises(ProofError, match="a frontier of size 5 has 2 hashes, got 1"):
        Frontier(5, [EMPTY_ROOT])


# --- the cached tree against the reference, exhaustively to 256 --------------------------

DIFFERENTIAL_MAX = 256
MUTATED_MAX = 64


def all_leaves(count: int) -> list[bytes]:
    return [i.to_bytes(4, "big") for i in range(count)]


def test_every_root_and_proof_up_to_256_matches_the_reference() -> None:
    leaves = all_leaves(DIFFERENTIAL_MAX)
    _, fetch = store(leaves)
    mth, path, proof_of = reference(leaves)
    for size in range(1, DIFFERENTIAL_MAX + 1):
        expected_root = mth(0, size)
        assert root(fetch, size) == expected_root, size
        for index in range(size):
            proof = inclusion_proof(fetch, index, size)
            assert proof == path(index, size), (index, size)
            verify_inclusion(leaf_hash(leaves[index]), index, size, proof, expected_root)
        for old in range(1, size + 1):
            proof = consistency_proof(fetch, old, size)
            assert proof == proof_of(old, size), (old, size)
            verify_consistency(old, size, proof, mth(0, old), expected_root)


def inclusion_mutations(
    leaf: bytes, index: int, size: int, proof: list[bytes], good_root: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    """Every way the transparency-dev tests corrupt an inclusion proof, and more."""
    out = [
        ("index - 1", (leaf, index - 1, size, proof, good_root)),
        ("index + 1", (leaf, index + 1, size, proof, good_root)),
        ("index ^ 2", (leaf, index ^ 2, size, proof, good_root)),
        ("size * 2", (leaf, index, size * 2, proof, good_root)),
        ("size // 2", (leaf, index, size // 2, proof, good_root)),
        ("wrong leaf", (leaf_hash(b"wrong"), index, size, proof, good_root)),
        ("empty root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("short root", (leaf, index, size, proof, good_root[:31])),
        ("short leaf", (leaf[:31], index, size, proof, good_root)),
        ("trailing hash", (leaf, index, size, [*proof, good_root], good_root)),
        ("leading hash", (leaf, index, size, [good_root, *proof], good_root)),
        ("trailing empty", (leaf, index, size, [*proof, b""], good_root)),
    ]
    for i in range(len(proof)):
        for bit in (0, 7, 255):
            flipped = list(proof)
            flipped[i] = bytes([flipped[i][0] ^ (1 << (bit % 8))]) + flipped[i][1:]
            out.append((f"proof[{i}] bit {bit % 8}", (leaf, index, size, flipped, good_root)))
        shortened = list(proof)
        shortened[i] = shortened[i][:31]
        out.append((f"proof[{i}] 31 bytes", (leaf, index, size, shortened, good_root)))
    if proof:
        out.append(("removed last", (leaf, index, size, proof[:-1], good_root)))
        out.append(("removed first", (leaf, index, size, proof[1:], good_root)))
        out.append(("inserted", (leaf, index, size, [proof[0], leaf, *proof[1:]], good_root)))
    return out


def consistency_mutations(
    old: int, new: int, proof: list[bytes], root1: bytes, root2: bytes
) -> list[tuple[str, tuple[int, int, list[bytes], bytes, bytes]]]:
    out = [
        ("old - 1", (old - 1, new, proof, root1, root2)),
        ("old + 1", (old + 1, new, proof, root1, root2)),
        ("old ^ 2", (old ^ 2, new, proof, root1, root2)),
        ("new * 2", (old, new * 2, proof, root1, root2)),
        ("new // 2", (old, new // 2, proof, root1, root2)),
        ("swapped roots", (old, new, proof, root2, root1)),
        ("wrong root1", (old, new, proof, EMPTY_ROOT, root2)),
        ("wrong root2", (old, new, proof, root1, EMPTY_ROOT)),
        ("short root1", (old, new, proof, root1[:31], root2)),
        ("empty proof", (old, new, [], root1, root2)),
        ("trailing root1", (old, new, [*proof, root1], root1, root2)),
        ("leading root2", (old, new, [root2, *proof], root1, root2)),
        ("truncated", (old, new, proof[:-1], root1, root2)),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        out.append((f"proof[{i}] bit 4", (old, new, flipped, root1, root2)))
        out.append(
            (
                f"proof[{i}] 33 bytes",
                (old, new, [*proof[:i], proof[i] + b"\0", *proof[i + 1 :]], root1, root2),
            )
        )
    return out


def assert_all_fail(verify: Callable[..., None], mutations: list[tuple[str, tuple]]) -> None:  # type: ignore[type-arg]
    accepted = []
    for name, args in mutations:
        try:
            verify(*args)
        except ProofError:
            continue
        accepted.append(name)
    assert accepted == []


def check_inclusion_mutations(
    leaves: list[bytes], fetch: Callable[..., list[bytes]], index: int, size: int
) -> None:
    good_root = root(fetch, size)
    proof = inclusion_proof(fetch, index, size)
    leaf = leaf_hash(leaves[index])
    assert_all_fail(verify_inclusion, inclusion_mutations(leaf, index, size, proof, good_root))


def check_consistency_mutations(fetch: Callable[..., list[bytes]], old: int, new: int) -> None:
    proof = consistency_proof(fetch, old, new)
    root1, root2 = root(fetch, old), root(fetch, new)
    assert_all_fail(verify_consistency, consistency_mutations(old, new, proof, root1, root2))


def test_every_mutation_of_every_small_proof_fails() -> None:
    leaves = all_leaves(MUTATED_MAX)
    _, fetch = store(leaves)
    for size in range(1, MUTATED_MAX + 1):
        for index in range(size):
            check_inclusion_mutations(leaves, fetch, index, size)
        for old in range(1, size):
            check_consistency_mutations(fetch, old, size)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(2, 3000), salt=st.binary(max_size=8))
def test_random_logs_and_mutations(data: st.DataObject, size: int, salt: bytes) -> None:
    leaves = [salt + i.to_bytes(4, "big") for i in range(size)]
    _, fetch = store(leaves)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size - 1))
    mth, path, proof_of = reference(leaves)
    assert root(fetch, size) == mth(0, size)
    assert inclusion_proof(fetch, index, size) == path(index, size)
    assert consistency_proof(fetch, old, size) == proof_of(old, size)
    check_inclusion_mutations(leaves, fetch, index, size)
    check_consistency_mutations(fetch, old, size)


# --- edges and messages ------------------------------------------------------------------


def test_one_leaf_tree_has_an_empty_proof_and_its_root_is_the_leaf() -> None:
    leaf = leaf_hash(b"data")
    verify_inclusion(leaf, 0, 1, [], leaf)
    with pytest.raises(ProofError, match="root is 0 bytes, expected 32"):
        verify_inclusion(leaf, 0, 1, [], b"")
    with pytest.raises(ProofError, match="leaf hash is 0 bytes, expected 32"):
        verify_inclusion(b"", 0, 1, [], leaf)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (2, 1), (-1, 4)])
def test_an_index_outside_the_tree_is_refused(index: int, size: int) -> None:
    with pytest.raises(ProofError, match=f"leaf index {index} is outside a tree of size {size}"):
        root_from_inclusion(EMPTY_ROOT, index, size, [])


def test_consistency_edges() -> None:
    verify_consistency(3, 3, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="same size, but roots"):
        verify_consistency(3, 3, [], EMPTY_ROOT, leaf_hash(b""))
    with pytest.raises(ProofError, match="has 1 hashes, expected 0"):
        verify_consistency(3, 3, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT)
    # Deliberately strict: a proof from the empty tree proves nothing.
    with pytest.raises(ProofError, match="no consistency proof from size 0 to size 1"):
        verify_consistency(0, 1, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="no consistency proof from size 2 to size 1"):
        verify_consistency(2, 1, [], EMPTY_ROOT, EMPTY_ROOT)


def test_messages_say_what_was_got_and_expected() -> None:
    leaves = all_leaves(8)
    _, fetch = store(leaves)
    proof = inclusion_proof(fetch, 3, 8)
    with pytest.raises(ProofError, match=r"inclusion proof for 3/8 has 2 hashes, expected 3"):
        verify_inclusion(leaf_hash(leaves[3]), 3, 8, proof[:2], root(fetch, 8))
    with pytest.raises(ProofError, match=r"gives root [0-9a-f]{64}, expected [0-9a-f]{64}$"):
        verify_inclusion(leaf_hash(leaves[4]), 3, 8, proof, root(fetch, 8))
    with pytest.raises(ProofError, match=r"proof hash 1 is 31 bytes, expected 32"):
        verify_inclusion(
            leaf_hash(leaves[3]), 3, 8, [proof[0], proof[1][:31], proof[2]], root(fetch, 8)
        )
    with pytest.raises(ProofError, match="node store returned 0 hashes for 3 nodes"):
        inclusion_proof(lambda keys: [], 3, 8)
