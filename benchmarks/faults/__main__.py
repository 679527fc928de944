"""``python -m benchmarks.faults``: run the fault benchmark and print its summary line."""

from benchmarks.faults.scorer import main

raise SystemExit(main())
