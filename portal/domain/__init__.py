"""Pure domain rules: no Flask imports, plain arguments (including `now`/`today`)."""
