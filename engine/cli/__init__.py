"""The `assay` command line: the only place where errors become exit codes.

`main` holds the root group and the run commands (run, collect, evaluate, doctor) and is
the console script's entry point; each other module is one command group (`checks`,
`controls`, `dsr`, `evidence`, `runs`: diff and waivers); `options` holds what they
share: output, selection, ledger and gating options and the one error handler.
Commands of other packages arrive through the ``assay.commands`` entry point group.
"""
