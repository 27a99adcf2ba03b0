"""The package's public surface: `__all__` lists exactly what callers may import."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import assay.evidence as evidence

# Every module of the package, subpackages included (the package attributes `canonical` and
# `verify` are functions, so modules are found by walking, not by attribute).
MODULES = [
    importlib.import_module(info.name)
    for info in pkgutil.walk_packages(evidence.__path__, f"{evidence.__name__}.")
]


def test_all_names_resolve_and_are_unique() -> None:
    assert len(set(evidence.__all__)) == len(evidence.__all__)
    for name in evidence.__all__:
        assert getattr(evidence, name) is not None, name


def test_public_classes_and_entry_points_are_exported() -> None:
    # Building blocks that stay module-level: sealing, the verifier's checks, RFC 6962
    # (assay.evidence.merkle), signed notes and key formats.
    internal = {
        "seal",
        "seal_batch",
        "record_hash",
        "tree_nodes",
        "check_position",
        "check_stored_hash",
        "parse_body",
        "check_version",
        "check_body_seq",
        "check_prev",
        "walk",
        "Walk",
        "Batch",
        "row_batches",
        "line_batches",
        "check_pseudonym",
        "leaf_hash",
        "node_hash",
        "frontier_keys",
        "root",
        "inclusion_proof",
        "consistency_proof",
        "root_from_inclusion",
        "verify_inclusion",
        "verify_consistency",
        "Frontier",
        "fold",
        "chunk_size",
        "walk_parallel",
        "checkpoint_text",
        "parse_checkpoint_text",
        "check_name",
        "key_id",
        "NoteVerifierKey",
        "NoteSigningKey",
        "b64decode",
        "check_text",
        "sign_note",
        "parse_note",
        "open_note",
        "Signature",
        "OpenedNote",
        # bundles: range and checkpoint choice, the file formats, the views, the record walk
        "find_range",
        "choose_checkpoints",
        "checkpoint_file",
        "zip_entry",
        "FileDigest",
        "Manifest",
        "Proofs",
        "sign_manifest",
        "check_manifest_signature",
        "Sink",
        "check_digest",
        "check_digests",
        "stored_span",
        "stored_blocks",
        "stored_digest",
        "walk_lines",
        "walk_records",
        "ViewContext",
        "Writer",
        "OscalWriter",
        "Summary",
        "Views",
        "Trust",
        "subtree_keys",
        "stitch",
        "context",
        "grow_tree",
        "StoredTree",
        "origin_id",
        "TreeReader",
        "unsigned_tail",
        "describe_tail",
        "rotations",
        "check_continuity",
        "check_stored_tree",
        "chunk_records",
        "Outcome",
        "brief",
        "check_writer",
        "sign_tree",
        "check_upper_tree",
        "is_conninfo",
        "check_outside_copy",
        "file_name",
        # what the SQL backends share: their base class and its statements
        "SqlLedger",
        "Dialect",
        # the run index SqlLedger keeps: its rows, statements, upkeep and migrations
        "RunEntry",
        "RunSql",
        "run_sql",
        "entry_of",
        "runs_query",
        "index_records",
        "rebuild",
        "rebuild_index",
        "targets_key",
        "target_names",
        "create_run_index",
        "fill_run_index",
        # the request index beside it: the seqs of each request's dsr records
        "RequestSql",
        "index_requests",
        "create_request_index",
        "fill_request_index",
        # timestamps and cosignatures: wire formats, where they are kept, the time checks
        "add_checkpoint_body",
        "request_cosignature",
        "Answer",
        "serving",
        "signed_message",
        "cosigner_key_id",
        "cosignatures",
        "cosignature_kind",
        "attachment_name",
        "attachment_file",
        "attachments_of",
        "cited",
        "token_time",
        "check_checkpoint",
        "check_times",
        "TimeBounds",
        "late_error",
        "claimed_time",
        # the tree the walk reads, joining parallel chunks
        "TreeStore",
        "Stitch",
        "TreeLedger",
    }
    defined = {
        name
        for module in MODULES
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    constants = {
        "DEFAULT_SIGNING_KEY",
        "EMPTY_ROOT",
        "GENESIS_PREV",
        "KEY_ROTATED",
        "MAX_SAFE_INT",
        "RESERVED_KEYS",
        "SIGNING_KEY_ENV",
        "SUPPORTED_URLS",
        "CHECKPOINT_LOG_ENV",
        "DEFAULT_CHECKPOINT_LOG",
        "TAIL_ADOPTED",
    }
    assert defined - internal == set(evidence.__all__) - constants
