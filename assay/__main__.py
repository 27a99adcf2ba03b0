from assay.engine.cli import main

main()
