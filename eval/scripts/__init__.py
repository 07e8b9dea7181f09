"""Developer scripts that show how defaults were chosen and how fast ingest is: `python -m newsrag.eval.scripts.NAME`."""
